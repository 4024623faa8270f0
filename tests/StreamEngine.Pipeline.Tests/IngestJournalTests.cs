using Akka.Actor;
using StreamEngine.Pipeline.Index;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.Pipeline.Tests;

public sealed class IngestJournalTests() : Akka.TestKit.Xunit2.TestKit(PipelineTestConfig.Create())
{
    private static MessageReceived Event(int n, string time = "2026", string body = "PID|1||X^^^R^MR\r", string lineEnd = "\r")
    {
        byte[] raw = System.Text.Encoding.ASCII.GetBytes($"MSH|^~\\&|A|B|||{time}||ADT^A01|{n}|P|2.4{lineEnd}{body.Replace("\r", lineEnd, StringComparison.Ordinal)}");
        return new(raw, DateTimeOffset.UtcNow, "A", "B", "ADT^A01", n.ToString(System.Globalization.CultureInfo.InvariantCulture), time,
            MessageFingerprint.ContentHash(raw));
    }

    private static IngestOptions Options(IMessageIndex? index = null, int snapshotEvery = 10_000) =>
        new(index ?? new InMemoryMessageIndex(), new DedupeSettings(), "akka.persistence.query.journal.inmem", snapshotEvery);

    [Fact]
    public void Append_ReplyJournaledWithConsecutiveSequenceNumbers()
    {
        IActorRef journal = Sys.ActorOf(IngestJournal.Props("ingest/t1/default", "t1", Options()));
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
        IActorRef journal = Sys.ActorOf(IngestJournal.Props("ingest/t2/default", "t2", Options()));
        journal.Tell(new Append(1, Event(1)));
        journal.Tell(new Append(2, Event(2)));
        ExpectMsg<Journaled>();
        ExpectMsg<Journaled>();
        Watch(journal);
        Sys.Stop(journal);
        ExpectTerminated(journal);

        IActorRef again = Sys.ActorOf(IngestJournal.Props("ingest/t2/default", "t2", Options()));
        again.Tell(GetHighestSequenceNr.Instance);
        ExpectMsg(2L);
        again.Tell(new Append(3, Event(3)));
        Assert.Equal(3, ExpectMsg<Journaled>().SequenceNr);
    }

    [Fact]
    public void LiveSubscriber_GetsEventsWhileItHasDemand_AndMissesThemAfter()
    {
        IActorRef journal = Sys.ActorOf(IngestJournal.Props("ingest/t3/default", "t3", Options()));
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
        IActorRef journal = Sys.ActorOf(IngestJournal.Props("ingest/t4/default", "t4", Options()));
        var sink = CreateTestProbe();
        journal.Tell(new SubscribeLive(sink.Ref, 10));
        sink.ExpectMsg<LiveSubscribed>();
        Watch(sink.Ref);
        Sys.Stop(sink.Ref);
        ExpectTerminated(sink.Ref);
        journal.Tell(new Append(1, Event(1)));
        Assert.Equal(1, ExpectMsg<Journaled>().SequenceNr); // and nothing is sent to a dead subscriber
    }

    [Fact]
    public void Resend_AfterCommit_GetsTheSameSequence_AndNothingNewIsJournaled()
    {
        IActorRef journal = Sys.ActorOf(IngestJournal.Props("ingest/d1/default", "d1", Options()));
        journal.Tell(new Append(1, Event(1)));
        Assert.Equal(new Journaled(1, 1), ExpectMsg<Journaled>());

        // The sender restamps MSH-7 and this time ends segments with CR LF: still the same message.
        journal.Tell(new Append(2, Event(1, time: "20261130120000", lineEnd: "\r\n")));
        Assert.Equal(new Journaled(2, 1, Duplicate: true), ExpectMsg<Journaled>());
        journal.Tell(GetHighestSequenceNr.Instance);
        ExpectMsg(1L);
    }

    [Fact]
    public void Resend_WhileTheFirstIsStillBeingWritten_IsAnsweredWithTheFirstsSequence()
    {
        IActorRef journal = Sys.ActorOf(IngestJournal.Props("ingest/d2/default", "d2", Options()));
        journal.Tell(new Append(1, Event(7)));
        journal.Tell(new Append(2, Event(7))); // same turn of the journal's mailbox: the first is in flight
        var replies = new[] { ExpectMsg<Journaled>(), ExpectMsg<Journaled>() }.OrderBy(r => r.CorrelationId).ToArray();
        Assert.Equal(new Journaled(1, 1), replies[0]);
        Assert.Equal(new Journaled(2, 1, Duplicate: true), replies[1]);
    }

    [Fact]
    public void AnAppendThatBringsItsAnswer_IsAnsweredThroughIt_AsItCommits_ResendsToo()
    {
        IActorRef journal = Sys.ActorOf(IngestJournal.Props("ingest/d4/default", "d4", Options()));
        var answers = new AnswerProbe(TestActor);
        journal.Tell(new Append(1, Event(3), answers));
        journal.Tell(new Append(2, Event(3), answers)); // a resend while the first is in flight
        journal.Tell(new Append(3, Event(4), answers));
        Assert.Equal((1L, false), ExpectMsg<(long, bool)>());
        Assert.Equal((1L, true), ExpectMsg<(long, bool)>());
        Assert.Equal((2L, false), ExpectMsg<(long, bool)>());
        journal.Tell(new Append(4, Event(4), answers)); // a resend after the commit
        Assert.Equal((2L, true), ExpectMsg<(long, bool)>());
        ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // no Journaled message besides
    }

    // Reports each answer the journal gives to the test actor.
    private sealed class AnswerProbe(IActorRef to) : ICommitAnswer
    {
        public void Committed(long sequenceNr, bool duplicate) => to.Tell((sequenceNr, duplicate));
    }

    [Fact]
    public void SameControlId_WithDifferentContent_IsJournaledAsNew()
    {
        IActorRef journal = Sys.ActorOf(IngestJournal.Props("ingest/d3/default", "d3", Options()));
        journal.Tell(new Append(1, Event(1)));
        ExpectMsg<Journaled>();
        journal.Tell(new Append(2, Event(1, body: "PID|1||Y^^^R^MR\r")));
        Assert.Equal(new Journaled(2, 2), ExpectMsg<Journaled>());
        // and the newer content is now the one a resend is compared with
        journal.Tell(new Append(3, Event(1, body: "PID|1||Y^^^R^MR\r")));
        Assert.Equal(new Journaled(3, 2, Duplicate: true), ExpectMsg<Journaled>());
    }

    [Fact]
    public void Dedupe_OnAQuietStream_ForgetsAKeyOnceTheWindowHasPassed_WithoutAnotherMessageInBetween()
    {
        var clock = new MovableClock(DateTimeOffset.UtcNow);
        IngestOptions options = Options() with { Dedupe = new DedupeSettings { Window = TimeSpan.FromHours(1) }, Clock = clock };
        IActorRef journal = Sys.ActorOf(IngestJournal.Props("ingest/d7/default", "d7", options));
        journal.Tell(new Append(1, Event(1)));
        Assert.Equal(new Journaled(1, 1), ExpectMsg<Journaled>());
        clock.Now += TimeSpan.FromMinutes(59);
        journal.Tell(new Append(2, Event(1)));
        Assert.Equal(new Journaled(2, 1, Duplicate: true), ExpectMsg<Journaled>()); // inside the window

        clock.Now += TimeSpan.FromMinutes(2);
        journal.Tell(new Append(3, Event(1)));
        Assert.Equal(new Journaled(3, 2), ExpectMsg<Journaled>()); // past it: journaled as new, nothing else came meanwhile
    }

    private sealed class MovableClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public async Task Dedupe_SurvivesARestart_ThroughTheIndex()
    {
        var index = new InMemoryMessageIndex();
        IActorRef journal = Sys.ActorOf(IngestJournal.Props("ingest/d4/default", "d4", Options(index)));
        journal.Tell(new Append(1, Event(1)));
        ExpectMsg<Journaled>();
        await AwaitAssertAsync(async () => Assert.Single(await index.FindAsync(new MessageQuery { Stream = "ingest/d4/default" })));
        Stop(journal);

        IActorRef again = Sys.ActorOf(IngestJournal.Props("ingest/d4/default", "d4", Options(index)));
        again.Tell(new Append(2, Event(1)));
        Assert.Equal(new Journaled(2, 1, Duplicate: true), ExpectMsg<Journaled>());
    }

    [Fact]
    public async Task Dedupe_AfterARestart_KeepsTheNewestMaxKeys_OfAnIndexHoldingMore()
    {
        var index = new InMemoryMessageIndex();
        IActorRef journal = Sys.ActorOf(IngestJournal.Props("ingest/d8/default", "d8", Options(index)));
        for (int i = 1; i <= 5; i++)
        {
            journal.Tell(new Append(i, Event(i)));
            ExpectMsg<Journaled>();
        }

        await AwaitAssertAsync(async () => Assert.Equal(5, (await index.FindAsync(new MessageQuery { Stream = "ingest/d8/default" })).Count));
        Stop(journal);

        // The index holds five keys (no prune yet); a window of three keeps messages 3-5 only.
        IActorRef again = Sys.ActorOf(IngestJournal.Props("ingest/d8/default", "d8", Options(index) with { Dedupe = new DedupeSettings { MaxKeys = 3 } }));
        again.Tell(new Append(6, Event(3)));
        Assert.Equal(new Journaled(6, 3, Duplicate: true), ExpectMsg<Journaled>());
        again.Tell(new Append(7, Event(5)));
        Assert.Equal(new Journaled(7, 5, Duplicate: true), ExpectMsg<Journaled>());
        again.Tell(new Append(8, Event(2)));
        Assert.Equal(new Journaled(8, 6), ExpectMsg<Journaled>()); // forgotten: journaled as new
    }

    [Fact]
    public async Task Dedupe_SurvivesACrashBeforeTheIndexWasWritten_ByReindexingFromTheJournal()
    {
        // The index never received the first message (the engine died between the commit and the index write).
        var lost = new DroppingIndex();
        IActorRef journal = Sys.ActorOf(IngestJournal.Props("ingest/d5/default", "d5", Options(lost)));
        journal.Tell(new Append(1, Event(1)));
        ExpectMsg<Journaled>();
        Stop(journal);

        var index = new InMemoryMessageIndex();
        IActorRef again = Sys.ActorOf(IngestJournal.Props("ingest/d5/default", "d5", Options(index)));
        again.Tell(new Append(2, Event(1)));
        Assert.Equal(new Journaled(2, 1, Duplicate: true), ExpectMsg<Journaled>());
        Assert.Single(await index.FindAsync(new MessageQuery { Stream = "ingest/d5/default" })); // and the index caught up
    }

    [Fact]
    public async Task ARejectedFrame_ResentAsItWas_IsNotJournaledAgain_AlsoAfterARestart_AndStaysFindable()
    {
        static FrameRejected Rejected(string body) =>
            new(System.Text.Encoding.ASCII.GetBytes("MSH|^~\\&|A|B|||2026|||BAD-9|P|2.5\r" + body), DateTimeOffset.UtcNow, "MissingMessageType");

        var index = new InMemoryMessageIndex();
        IActorRef journal = Sys.ActorOf(IngestJournal.Props("ingest/d6/default", "d6", Options(index)));
        journal.Tell(new Append(1, Rejected("PID|1||X\r")));
        Assert.Equal(new Journaled(1, 1), ExpectMsg<Journaled>());
        journal.Tell(new Append(2, Rejected("PID|1||X\r")));
        Assert.Equal(new Journaled(2, 1, Duplicate: true), ExpectMsg<Journaled>()); // the same AR again, nothing new
        journal.Tell(new Append(3, Rejected("PID|1||Y\r")));
        Assert.Equal(new Journaled(3, 2), ExpectMsg<Journaled>()); // other bytes: a frame of its own
        journal.Tell(new Append(4, Event(9)));
        Assert.Equal(new Journaled(4, 3), ExpectMsg<Journaled>());
        await AwaitAssertAsync(async () => Assert.Equal(3, (await index.FindAsync(new MessageQuery { Stream = "ingest/d6/default" })).Count));
        Stop(journal);

        IActorRef again = Sys.ActorOf(IngestJournal.Props("ingest/d6/default", "d6", Options(index)));
        again.Tell(new Append(5, Rejected("PID|1||X\r")));
        Assert.Equal(new Journaled(5, 1, Duplicate: true), ExpectMsg<Journaled>());
        MessageIndexEntry first = (await index.FindAsync(new MessageQuery { Stream = "ingest/d6/default" })).Single(e => e.SequenceNr == 1);
        Assert.Equal(("MissingMessageType", "BAD-9"), (first.RejectedReason, first.ControlId)); // trace still finds it as rejected
    }

    private void Stop(IActorRef actor)
    {
        Watch(actor);
        Sys.Stop(actor);
        ExpectTerminated(actor);
    }

    // An index whose writes never land.
    private sealed class DroppingIndex : IMessageIndex
    {
        private readonly InMemoryMessageIndex _empty = new();

        public Task InitializeAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task<long> LoadAsync(string stream, DateTimeOffset since, IKeySink? keys, CancellationToken cancellationToken = default) =>
            _empty.LoadAsync(stream, since, keys, cancellationToken);

        public Task AddAsync(string stream, IReadOnlyList<MessageIndexEntry> entries, CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task<int> PruneAsync(string stream, DateTimeOffset olderThan, int keep, CancellationToken cancellationToken = default) => Task.FromResult(0);

        public Task<IReadOnlyList<MessageIndexEntry>> FindAsync(MessageQuery query, CancellationToken cancellationToken = default) =>
            _empty.FindAsync(query, cancellationToken);
    }
}
