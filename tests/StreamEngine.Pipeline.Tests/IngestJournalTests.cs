using Akka.Actor;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.Pipeline.Tests;

public sealed class IngestJournalTests() : Akka.TestKit.Xunit2.TestKit(PipelineTestConfig.Create())
{
    private static MessageReceived Event(int n) =>
        new(System.Text.Encoding.ASCII.GetBytes($"MSH|^~\\&|A|B|||2026||ADT^A01|{n}|P|2.4\r"), DateTimeOffset.UtcNow, "A", "B", "ADT^A01", n.ToString(System.Globalization.CultureInfo.InvariantCulture), "2026");

    [Fact]
    public void Append_ReplyJournaledWithConsecutiveSequenceNumbers()
    {
        IActorRef journal = Sys.ActorOf(IngestJournal.Props("ingest/t1/default", "t1"));
        for (int i = 1; i <= 5; i++)
        {
            journal.Tell(new Append(i, Event(i)));
        }

        var replies = Enumerable.Range(0, 5).Select(_ => ExpectMsg<Journaled>()).ToList();
        Assert.Equal([1L, 2, 3, 4, 5], replies.Select(r => r.SequenceNr));
        Assert.Equal([1L, 2, 3, 4, 5], replies.Select(r => r.CorrelationId));
    }

    [Fact]
    public void Recovery_ContinuesTheSequence()
    {
        IActorRef journal = Sys.ActorOf(IngestJournal.Props("ingest/t2/default", "t2"));
        journal.Tell(new Append(1, Event(1)));
        journal.Tell(new Append(2, Event(2)));
        ExpectMsg<Journaled>();
        ExpectMsg<Journaled>();
        Watch(journal);
        Sys.Stop(journal);
        ExpectTerminated(journal);

        IActorRef again = Sys.ActorOf(IngestJournal.Props("ingest/t2/default", "t2"));
        again.Tell(GetHighestSequenceNr.Instance);
        ExpectMsg(2L);
        again.Tell(new Append(3, Event(3)));
        Assert.Equal(3, ExpectMsg<Journaled>().SequenceNr);
    }

    [Fact]
    public void LiveSubscriber_GetsEventsWhileItHasDemand_AndMissesThemAfter()
    {
        IActorRef journal = Sys.ActorOf(IngestJournal.Props("ingest/t3/default", "t3"));
        journal.Tell(new Append(1, Event(1)));
        ExpectMsg<Journaled>();

        var sink = CreateTestProbe();
        journal.Tell(new SubscribeLive(sink.Ref, 2));
        Assert.Equal(1, sink.ExpectMsg<LiveSubscribed>().HighestSequenceNr);

        for (int i = 2; i <= 4; i++)
        {
            journal.Tell(new Append(i, Event(i)));
            ExpectMsg<Journaled>();
        }

        Assert.Equal(2, sink.ExpectMsg<LiveEvent>().SequenceNr);
        Assert.Equal(3, sink.ExpectMsg<LiveEvent>().SequenceNr);

        // Out of demand: 4 was not offered (the sink will see the gap at 5 and catch up from the journal).
        journal.Tell(new GrantDemand(1), sink.Ref);
        journal.Tell(new Append(5, Event(5)));
        ExpectMsg<Journaled>();
        Assert.Equal(5, sink.ExpectMsg<LiveEvent>().SequenceNr);
    }

    [Fact]
    public void StoppedSubscriber_IsForgotten()
    {
        IActorRef journal = Sys.ActorOf(IngestJournal.Props("ingest/t4/default", "t4"));
        var sink = CreateTestProbe();
        journal.Tell(new SubscribeLive(sink.Ref, 10));
        sink.ExpectMsg<LiveSubscribed>();
        Watch(sink.Ref);
        Sys.Stop(sink.Ref);
        ExpectTerminated(sink.Ref);
        journal.Tell(new Append(1, Event(1)));
        Assert.Equal(1, ExpectMsg<Journaled>().SequenceNr); // and nothing is sent to a dead subscriber
    }
}
