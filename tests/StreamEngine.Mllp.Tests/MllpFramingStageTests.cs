using System.Text;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;

namespace StreamEngine.Mllp.Tests;

public sealed class MllpFramingStageTests : Akka.TestKit.Xunit2.TestKit
{
    private readonly IMaterializer _materializer;

    public MllpFramingStageTests() => _materializer = Sys.Materializer();

    [Fact]
    public async Task Stage_RechunkedInput_EmitsEveryFrameInOrder()
    {
        var random = new Random(7);
        string[] payloads = Enumerable.Range(0, 200).Select(i => $"MSH|^~\\&|{i}|" + new string('x', random.Next(0, 500))).ToArray();
        byte[] stream = payloads.SelectMany(p => MllpFrame.Wrap(Encoding.ASCII.GetBytes(p))).ToArray();
        var chunks = new List<ByteString>();
        for (int offset = 0; offset < stream.Length;)
        {
            int size = Math.Min(stream.Length - offset, random.Next(1, 300));
            chunks.Add(ByteString.FromBytes(stream, offset, size));
            offset += size;
        }

        IReadOnlyList<byte[]> frames = await Source.From(chunks).Via(MllpFramingStage.Create(1 << 16)).RunWith(Sink.Seq<byte[]>(), _materializer);
        Assert.Equal(payloads, frames.Select(f => Encoding.ASCII.GetString(f)));
    }

    [Fact]
    public void Stage_PullsUpstreamOnlyWhenDownstreamWants()
    {
        TestPublisher.ManualProbe<ByteString> upstream = this.CreateManualPublisherProbe<ByteString>();
        TestSubscriber.ManualProbe<byte[]> downstream = this.CreateManualSubscriberProbe<byte[]>();
        Source.FromPublisher(upstream).Via(MllpFramingStage.Create(1024)).To(Sink.FromSubscriber(downstream)).Run(_materializer);
        StreamTestKit.PublisherProbeSubscription<ByteString> upstreamSubscription = upstream.ExpectSubscription();
        Reactive.Streams.ISubscription downstreamSubscription = downstream.ExpectSubscription();

        // Two frames in one chunk: one request from downstream gets one frame, and no further socket read.
        downstreamSubscription.Request(1);
        upstreamSubscription.ExpectRequest();
        upstreamSubscription.SendNext(ByteString.FromBytes([.. MllpFrame.Wrap("MSH|1"u8), .. MllpFrame.Wrap("MSH|2"u8)]));
        Assert.Equal("MSH|1", Encoding.ASCII.GetString(downstream.ExpectNext()));
        upstream.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // the decoded second frame needs no read
        downstreamSubscription.Request(1);
        Assert.Equal("MSH|2", Encoding.ASCII.GetString(downstream.ExpectNext()));
        downstreamSubscription.Request(1);
        upstreamSubscription.ExpectRequest(); // only now, with nothing decoded left, is the socket read again
    }

    [Fact]
    public async Task Stage_FrameOverLimit_FailsTheStream()
    {
        var failure = await Assert.ThrowsAsync<MllpFrameTooLargeException>(() =>
            Source.Single(ByteString.FromBytes(MllpFrame.Wrap(new byte[2048]))).Via(MllpFramingStage.Create(1024)).RunWith(Sink.Seq<byte[]>(), _materializer));
        Assert.Equal(1024, failure.MaxFrameBytes);
    }

    [Fact]
    public async Task Stage_UpstreamEndsAfterSeveralFrames_EmitsThemAllThenCompletes()
    {
        byte[] both = [.. MllpFrame.Wrap("MSH|a"u8), .. MllpFrame.Wrap("MSH|b"u8), MllpDecoder.StartBlock, (byte)'x'];
        IReadOnlyList<byte[]> frames = await Source.Single(ByteString.FromBytes(both)).Via(MllpFramingStage.Create(1024)).RunWith(Sink.Seq<byte[]>(), _materializer);
        Assert.Equal(["MSH|a", "MSH|b"], frames.Select(f => Encoding.ASCII.GetString(f)));
    }
}
