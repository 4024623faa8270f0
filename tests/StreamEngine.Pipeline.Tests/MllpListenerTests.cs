using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Streams.Implementation;
using StreamEngine.Hl7v2;
using StreamEngine.Mllp;
using StreamEngine.Pipeline.Ingest;
using StreamEngine.Pipeline.Listening;
using StreamEngine.TestKit;

namespace StreamEngine.Pipeline.Tests;

public sealed class MllpListenerTests() : Akka.TestKit.Xunit2.TestKit(PipelineTestConfig.Create())
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task AConnectionsGraph_RunsInOneActor_ItsSocketReadFusedWithTheFraming()
    {
        // Akka.Streams gives an async unfold source the blocking-I/O dispatcher, which would run the socket read in an
        // actor of its own: an asynchronous boundary (a message each way) per frame and 16 reads of read-ahead
        // (perf/RESULTS.md, session 21). The listener's stream supervisor holds one actor per island of each graph.
        var journal = CreateTestProbe();
        var settings = new ListenerSettings { Id = "fused", Name = "fused", Port = 0, CommitTimeout = TimeSpan.FromSeconds(30) };
        IActorRef listener = Sys.ActorOf(MllpListener.Props(settings, journal.Ref, new Hl7AckBuilder(DateTimeOffset.UtcNow), new PatientKeyHasher(new byte[32])));
        var bound = await listener.Ask<ListenerBound>(GetListenerBinding.Instance, Wait);

        using var client = new TcpClient();
        await client.ConnectAsync((IPEndPoint)bound.Endpoint);
        NetworkStream stream = client.GetStream();
        await stream.WriteAsync(MllpFrame.Wrap(TestData.Message(@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A01|F1|P|2.4", "PID|1||X")));
        journal.ExpectMsg<Append>().OnCommitted!.Committed(1, duplicate: false);
        Assert.Equal("AA", (await MllpAnswers.ReadOneAsync(stream, Wait)).Get("MSA-1")); // the connection's graph is running

        IActorRef supervisor = await Sys.ActorSelection(listener.Path / "StreamSupervisor-*").ResolveOne(Wait);
        supervisor.Tell(StreamSupervisor.GetChildren.Instance);
        Assert.Single(ExpectMsg<StreamSupervisor.Children>().Refs);
    }
}
