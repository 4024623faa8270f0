using Akka.Actor;
using Akka.IO;
using StreamEngine.Hl7v2;
using StreamEngine.Mllp;
using StreamEngine.Pipeline.Ingest;
using StreamEngine.Pipeline.Listening;
using StreamEngine.TestKit;

namespace StreamEngine.Pipeline.Tests;

public sealed class ConnectionActorTests() : Akka.TestKit.Xunit2.TestKit(PipelineTestConfig.Create())
{
    private static readonly PatientKeyHasher Hasher = new(new byte[32]);

    private static readonly ListenerSettings Listener = new() { Id = "t", Name = "t", CommitTimeout = TimeSpan.FromMilliseconds(300) };

    private static Hl7Message Ack(ByteString framed) => Assert.Single(MllpAnswers.Parse(framed.ToArray()));

    [Fact]
    public void UsableFrame_IsAcknowledgedOnlyAfterTheJournalCommits()
    {
        var journal = CreateTestProbe();
        IActorRef connection = Sys.ActorOf(ConnectionActor.Props(Listener with { CommitTimeout = TimeSpan.FromSeconds(30) }, journal.Ref, new Hl7AckBuilder(DateTimeOffset.UtcNow), Hasher));
        connection.Tell(new InboundFrame(TestData.Message(@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A01|ABC|P|2.4", "PID|1||X^^^R^MR")));

        Append append = journal.ExpectMsg<Append>();
        var received = Assert.IsType<MessageReceived>(append.Event);
        Assert.Equal(("PAS", "RX1", "ADT^A01", "ABC"), (received.SendingApplication, received.SendingFacility, received.MessageType, received.ControlId));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // no ACK before the commit

        journal.Reply(new Journaled(append.CorrelationId, 7));
        Hl7Message ack = Ack(ExpectMsg<ByteString>());
        Assert.Equal("AA", ack.Get("MSA-1"));
        Assert.Equal("ABC", ack.Get("MSA-2"));
    }

    [Fact]
    public void EnhancedMode_GetsCa()
    {
        var journal = CreateTestProbe();
        IActorRef connection = Sys.ActorOf(ConnectionActor.Props(Listener, journal.Ref, new Hl7AckBuilder(DateTimeOffset.UtcNow), Hasher));
        connection.Tell(new InboundFrame(TestData.Message(@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A01|E1|P|2.5|||AL|NE", "PID|1||X")));
        journal.Reply(new Journaled(journal.ExpectMsg<Append>().CorrelationId, 1));
        Assert.Equal("CA", Ack(ExpectMsg<ByteString>()).Get("MSA-1"));
    }

    [Fact]
    public void NoAckRequested_AnswersEmpty()
    {
        var journal = CreateTestProbe();
        IActorRef connection = Sys.ActorOf(ConnectionActor.Props(Listener, journal.Ref, new Hl7AckBuilder(DateTimeOffset.UtcNow), Hasher));
        connection.Tell(new InboundFrame(TestData.Message(@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A01|E1|P|2.5|||NE|NE", "PID|1||X")));
        journal.Reply(new Journaled(journal.ExpectMsg<Append>().CorrelationId, 1));
        Assert.True(ExpectMsg<ByteString>().IsEmpty);
    }

    [Fact]
    public void BrokenMsh_IsJournaledForQuarantine_AndAnsweredArWithErr()
    {
        var journal = CreateTestProbe();
        IActorRef connection = Sys.ActorOf(ConnectionActor.Props(Listener, journal.Ref, new Hl7AckBuilder(DateTimeOffset.UtcNow), Hasher));
        connection.Tell(new InboundFrame(TestData.Message(@"MSH|^~\&|PAS|RX1|R|RX2|20260101|||NOTYPE|P|2.3", "PID|1||X")));
        Append append = journal.ExpectMsg<Append>();
        Assert.Equal("MissingMessageType", Assert.IsType<FrameRejected>(append.Event).Reason);
        journal.Reply(new Journaled(append.CorrelationId, 2));
        Hl7Message ack = Ack(ExpectMsg<ByteString>());
        Assert.Equal("AR", ack.Get("MSA-1"));
        Assert.Equal("NOTYPE", ack.Get("MSA-2"));
        // The header was readable: the NAK swaps the parties and follows the message's version (ERR-1 in v2.3).
        Assert.Equal(("R", "RX2", "PAS", "2.3"), (ack.Get("MSH-3"), ack.Get("MSH-4"), ack.Get("MSH-5"), ack.Version));
        Assert.Equal("101", ack.Get("ERR-1.4.1"));
    }

    [Theory]
    [InlineData("2.3", "", "AR", "ERR-1.3", "ERR-1.4.1")]
    [InlineData("2.5", "", "AR", "ERR-2.3", "ERR-3.1")]
    [InlineData("2.5", "|||NE|NE", "CR", "ERR-2.3", "ERR-3.1")] // enhanced mode: a commit reject, sent even under NE
    public void NoControlId_IsJournaledForQuarantine_AndAnsweredArNamingMsh10(string version, string ackTypes, string code, string fieldPath, string codePath)
    {
        // Accepted, its ACK would carry an empty MSA-2 the sender cannot match, and every sink would quarantine it.
        var journal = CreateTestProbe();
        IActorRef connection = Sys.ActorOf(ConnectionActor.Props(Listener, journal.Ref, new Hl7AckBuilder(DateTimeOffset.UtcNow), Hasher));
        connection.Tell(new InboundFrame(TestData.Message($@"MSH|^~\&|PAS|RX1|R|RX2|20260101||ADT^A01| |P|{version}{ackTypes}", "PID|1||X^^^RX1^MR")));
        Append append = journal.ExpectMsg<Append>();
        Assert.Equal("MissingControlId", Assert.IsType<FrameRejected>(append.Event).Reason); // blank counts as missing
        journal.Reply(new Journaled(append.CorrelationId, 2));
        Hl7Message ack = Ack(ExpectMsg<ByteString>());
        Assert.Equal(code, ack.Get("MSA-1"));
        Assert.Equal(("R", "RX2", "PAS"), (ack.Get("MSH-3"), ack.Get("MSH-4"), ack.Get("MSH-5")));
        Assert.Equal(("10", "101"), (ack.Get(fieldPath), ack.Get(codePath))); // MSH-10, required field missing
    }

    [Fact]
    public void NoControlId_AndARealError_IsRejectedForTheRealError()
    {
        var journal = CreateTestProbe();
        IActorRef connection = Sys.ActorOf(ConnectionActor.Props(Listener, journal.Ref, new Hl7AckBuilder(DateTimeOffset.UtcNow), Hasher));
        connection.Tell(new InboundFrame(TestData.Message(@"MSH|^~\&|PAS|RX1|R|RX2|20260101||||P|2.5", "PID|1||X")));
        Append append = journal.ExpectMsg<Append>();
        Assert.Equal("MissingMessageType", Assert.IsType<FrameRejected>(append.Event).Reason);
        journal.Reply(new Journaled(append.CorrelationId, 3));
        Assert.Equal("9", Ack(ExpectMsg<ByteString>()).Get("ERR-2.3")); // MSH-9: fixing MSH-10 alone would not do
    }

    [Fact]
    public void JournalThatNeverAnswers_GivesAr207AfterTheCommitTimeout_AndALateCommitIsIgnored()
    // The late commit still leaves the message in the journal: the sender resends after the AR and, until the dedupe
    // of (MSH-3, MSH-4, MSH-10) lands (issue #5), the resend is journaled a second time.
    {
        var journal = CreateTestProbe();
        IActorRef connection = Sys.ActorOf(ConnectionActor.Props(Listener, journal.Ref, new Hl7AckBuilder(DateTimeOffset.UtcNow), Hasher));
        connection.Tell(new InboundFrame(TestData.Message(@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A01|SLOW|P|2.5", "PID|1||X")));
        Append append = journal.ExpectMsg<Append>();
        Hl7Message ack = Ack(ExpectMsg<ByteString>(TimeSpan.FromSeconds(5)));
        Assert.Equal("AR", ack.Get("MSA-1"));
        Assert.Equal("207", ack.Get("ERR-3.1"));
        journal.Reply(new Journaled(append.CorrelationId, 3));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void FailedAppend_GivesAr207()
    {
        var journal = CreateTestProbe();
        IActorRef connection = Sys.ActorOf(ConnectionActor.Props(Listener, journal.Ref, new Hl7AckBuilder(DateTimeOffset.UtcNow), Hasher));
        connection.Tell(new InboundFrame(TestData.Message(@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A01|F1|P|2.4", "PID|1||X")));
        journal.Reply(new AppendFailed(journal.ExpectMsg<Append>().CorrelationId));
        Hl7Message ack = Ack(ExpectMsg<ByteString>());
        Assert.Equal("AR", ack.Get("MSA-1"));
        Assert.Equal("207", ack.Get("ERR-1.4.1"));
    }

    [Fact]
    public void BatchFrame_JournalsEveryMessage_AndAnswersOneAcknowledgmentBatch()
    {
        var journal = CreateTestProbe();
        IActorRef connection = Sys.ActorOf(ConnectionActor.Props(Listener with { CommitTimeout = TimeSpan.FromSeconds(30) }, journal.Ref, new Hl7AckBuilder(DateTimeOffset.UtcNow), Hasher));
        connection.Tell(new InboundFrame(TestData.Message(
            @"BHS|^~\&|PAS|RX1|ENG|RX1|2026||||B42",
            @"MSH|^~\&|PAS|RX1|ENG|RX1|2026||ADT^A01|M1|P|2.5", "PID|1||X",
            @"MSH|^~\&|PAS|RX1|ENG|RX1|2026|||M2|P|2.5", "PID|1||Y",
            "BTS|2")));

        Append first = journal.ExpectMsg<Append>();
        Append second = journal.ExpectMsg<Append>();
        Assert.IsType<MessageReceived>(first.Event);
        Assert.Equal("MissingMessageType", Assert.IsType<FrameRejected>(second.Event).Reason);
        journal.Reply(new Journaled(second.CorrelationId, 2));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // not until every message is settled
        journal.Send(connection, new Journaled(first.CorrelationId, 1));

        var frames = new List<byte[]>();
        new MllpDecoder(1 << 20).Feed(ExpectMsg<ByteString>().ToArray(), frames);
        Assert.True(Hl7Batch.TryParse(Assert.Single(frames), out Hl7Batch? ackBatch, out IReadOnlyList<Hl7Issue> issues));
        Assert.Empty(issues);
        Assert.Equal("B42", ackBatch!.Groups[0].Header!.Value.Field(12).ToString());
        var acks = ackBatch.Messages.Select(m => { Hl7Parser.TryParse(m, out Hl7Message? a, out _); return (a!.Get("MSA-1"), a.Get("MSA-2")); }).ToList();
        Assert.Equal([("AA", "M1"), ("AR", "M2")], acks);
    }

    [Fact]
    public void MllpRelease2_AnswersCommitBytes()
    {
        var journal = CreateTestProbe();
        IActorRef connection = Sys.ActorOf(ConnectionActor.Props(Listener with { MllpRelease2 = true, CommitTimeout = TimeSpan.FromSeconds(30) }, journal.Ref, new Hl7AckBuilder(DateTimeOffset.UtcNow), Hasher));
        connection.Tell(new InboundFrame(TestData.Message(@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A01|R2|P|2.4", "PID|1||X")));
        journal.Reply(new Journaled(journal.ExpectMsg<Append>().CorrelationId, 1));
        Assert.Equal(new byte[] { 0x0B, 0x06, 0x1C, 0x0D }, ExpectMsg<ByteString>().ToArray());

        connection.Tell(new InboundFrame(TestData.Message("garbage")));
        journal.Reply(new Journaled(journal.ExpectMsg<Append>().CorrelationId, 2));
        Assert.Equal(new byte[] { 0x0B, 0x15, 0x1C, 0x0D }, ExpectMsg<ByteString>().ToArray());
    }

    [Fact]
    public async Task FrameFromTheStream_IsAnsweredByTheJournalItself_OnlyOnceCommitted()
    {
        var journal = CreateTestProbe();
        IActorRef connection = Sys.ActorOf(ConnectionActor.Props(Listener with { CommitTimeout = TimeSpan.FromSeconds(30) }, journal.Ref, new Hl7AckBuilder(DateTimeOffset.UtcNow), Hasher));
        var reply = new TaskCompletionSource<ByteString>();
        connection.Tell(new InboundFrame(TestData.Message(@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A01|D1|P|2.4", "PID|1||X"), reply));

        Append append = journal.ExpectMsg<Append>();
        Assert.NotNull(append.OnCommitted);
        journal.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.False(reply.Task.IsCompleted); // no ACK before the commit

        append.OnCommitted!.Committed(5, duplicate: false);
        Hl7Message ack = Ack(await reply.Task.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(("AA", "D1"), (ack.Get("MSA-1"), ack.Get("MSA-2")));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task FrameFromTheStream_WhoseCommitFails_GetsAr207_AndOneThatTimesOut_IsNotOverwrittenByALateCommit()
    {
        var journal = CreateTestProbe();
        IActorRef connection = Sys.ActorOf(ConnectionActor.Props(Listener, journal.Ref, new Hl7AckBuilder(DateTimeOffset.UtcNow), Hasher));

        var failed = new TaskCompletionSource<ByteString>();
        connection.Tell(new InboundFrame(TestData.Message(@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A01|F2|P|2.4", "PID|1||X"), failed));
        journal.Reply(new AppendFailed(journal.ExpectMsg<Append>().CorrelationId));
        Hl7Message nak = Ack(await failed.Task.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(("AR", "F2", "207"), (nak.Get("MSA-1"), nak.Get("MSA-2"), nak.Get("ERR-1.4.1")));

        // One the journal never answers, then one it answers at once (behind the first, so it stays in the actor's
        // books until the sweep): only the first is reported as timed out, and the late commit changes nothing.
        var slow = new TaskCompletionSource<ByteString>();
        var answered = new TaskCompletionSource<ByteString>();
        await EventFilter.Warning(contains: "timed out").ExpectOneAsync(async () =>
        {
            connection.Tell(new InboundFrame(TestData.Message(@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A01|SLOW2|P|2.4", "PID|1||X"), slow));
            connection.Tell(new InboundFrame(TestData.Message(@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A01|OK3|P|2.4", "PID|1||X"), answered));
            Append late = journal.ExpectMsg<Append>();
            journal.ExpectMsg<Append>().OnCommitted!.Committed(8, duplicate: false);
            Assert.Equal("AA", Ack(await answered.Task.WaitAsync(TimeSpan.FromSeconds(5))).Get("MSA-1"));
            Hl7Message ar = Ack(await slow.Task.WaitAsync(TimeSpan.FromSeconds(5)));
            Assert.Equal(("AR", "207"), (ar.Get("MSA-1"), ar.Get("ERR-1.4.1"))); // v2.4: the code goes in ERR-1
            late.OnCommitted!.Committed(9, duplicate: false); // too late: the AR stands
        });
        Assert.Equal("AR", Ack(await slow.Task).Get("MSA-1"));
    }

    [Fact]
    public async Task ASenderRepeatingABadFrame_OnOneConnectionOrANewOneEachTime_IsAnsweredEachTime_AndLoggedOnceForTheListener()
    {
        var journal = CreateTestProbe();
        var rejections = new CodedLog();
        int sequence = 0;
        void SendBad(IActorRef connection)
        {
            connection.Tell(new InboundFrame(System.Text.Encoding.ASCII.GetBytes("not hl7 at all\r")));
            journal.Reply(new Journaled(journal.ExpectMsg<Append>().CorrelationId, ++sequence));
            Assert.Equal("AR", Ack(ExpectMsg<ByteString>()).Get("MSA-1")); // every one is still answered
        }

        await EventFilter.Warning(contains: "rejected").ExpectOneAsync(async () =>
        {
            IActorRef busy = Sys.ActorOf(ConnectionActor.Props(Listener, journal.Ref, new Hl7AckBuilder(DateTimeOffset.UtcNow), Hasher, rejections));
            for (int i = 0; i < 50; i++)
            {
                SendBad(busy);
            }

            for (int i = 0; i < 5; i++)
            {
                IActorRef once = Sys.ActorOf(ConnectionActor.Props(Listener, journal.Ref, new Hl7AckBuilder(DateTimeOffset.UtcNow), Hasher, rejections));
                SendBad(once);
                Watch(once);
                Sys.Stop(once); // its end sums nothing up: the listener does, every 10 s and when it stops
                ExpectTerminated(once);
            }

            await Task.CompletedTask;
        });

        Assert.Equal("54 (BadMsh x54)", rejections.TakeSummary(force: true)); // the listener's next summary line
    }

    [Fact]
    public async Task FrameWithAWriter_HasItsAckWrittenByTheCommit_Once_AndItsStreamWaitsForTheWrite()
    {
        var journal = CreateTestProbe();
        IActorRef connection = Sys.ActorOf(ConnectionActor.Props(Listener, journal.Ref, new Hl7AckBuilder(DateTimeOffset.UtcNow), Hasher));
        var written = new List<(ByteString Answer, int Thread)>();
        var write = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reply = new TaskCompletionSource<ByteString>();
        connection.Tell(new InboundFrame(TestData.Message(@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A01|W1|P|2.4", "PID|1||X"), reply)
        {
            WriteAnswer = answer =>
            {
                lock (written)
                {
                    written.Add((answer, Environment.CurrentManagedThreadId));
                }

                return write.Task; // the peer has not taken the bytes yet
            },
        });

        Append append = journal.ExpectMsg<Append>();
        lock (written)
        {
            Assert.Empty(written); // nothing before the commit
        }

        append.OnCommitted!.Committed(3, duplicate: false);
        (ByteString ack, int thread) = Assert.Single(written);
        Assert.Equal(Environment.CurrentManagedThreadId, thread); // written by the committing thread, no hop first
        Assert.Equal(("AA", "W1"), (Ack(ack).Get("MSA-1"), Ack(ack).Get("MSA-2")));
        Assert.False(reply.Task.IsCompleted); // the stream reads its next frame only once this answer is written

        // The commit timeout (300 ms) passes while the write is still under way: the frame is answered, so no AR follows.
        // A later frame the journal never commits gets its AR 207 from a sweep past the first frame's deadline too.
        var later = new TaskCompletionSource<ByteString>();
        connection.Tell(new InboundFrame(TestData.Message(@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A01|W3|P|2.4", "PID|1||X"), later));
        journal.ExpectMsg<Append>();
        Hl7Message ar = Ack(await later.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(("AR", "W3"), (ar.Get("MSA-1"), ar.Get("MSA-2")));
        lock (written)
        {
            Assert.Single(written);
        }

        write.SetResult();
        Assert.True((await reply.Task.WaitAsync(TimeSpan.FromSeconds(5))).IsEmpty); // nothing left for the stream to write
    }

    [Fact]
    public async Task FrameWithAWriter_WhoseWriteFailsAsThePeerIsGone_EndsItsStreamQuietly() =>
        Assert.Same(ConnectionActor.Stopped, await AnswerWhenTheWriteFails(new IOException("peer gone"))); // the stream ends there, no error

    [Fact]
    public async Task FrameWithAWriter_WhoseWriteFailsOtherwise_FailsItsStream() =>
        await Assert.ThrowsAsync<InvalidOperationException>(() => AnswerWhenTheWriteFails(new InvalidOperationException("a bug")));

    // What the stream's promise gets for a committed frame whose answer's write fails with the given exception.
    private Task<ByteString> AnswerWhenTheWriteFails(Exception failure)
    {
        var journal = CreateTestProbe();
        IActorRef connection = Sys.ActorOf(ConnectionActor.Props(Listener with { CommitTimeout = TimeSpan.FromSeconds(30) }, journal.Ref, new Hl7AckBuilder(DateTimeOffset.UtcNow), Hasher));
        var reply = new TaskCompletionSource<ByteString>();
        connection.Tell(new InboundFrame(TestData.Message(@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A01|W2|P|2.4", "PID|1||X"), reply)
        {
            WriteAnswer = _ => Task.FromException(failure),
        });

        journal.ExpectMsg<Append>().OnCommitted!.Committed(4, duplicate: false);
        return reply.Task.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Theory]
    [InlineData(@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A01|E2|P|2.5|||AL|NE", false, "CA")] // enhanced mode
    [InlineData(@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A01|E3|P|2.5|||NE|NE", false, null)] // no ACK asked for
    [InlineData(@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A01|R3|P|2.4", true, null)] // MLLP release 2: commit bytes
    public async Task TheJournalsOwnAnswer_FollowsTheAckMode(string msh, bool release2, string? code)
    {
        var journal = CreateTestProbe();
        IActorRef connection = Sys.ActorOf(ConnectionActor.Props(Listener with { MllpRelease2 = release2, CommitTimeout = TimeSpan.FromSeconds(30) },
            journal.Ref, new Hl7AckBuilder(DateTimeOffset.UtcNow), Hasher));
        var reply = new TaskCompletionSource<ByteString>();
        connection.Tell(new InboundFrame(TestData.Message(msh, "PID|1||X"), reply));
        journal.ExpectMsg<Append>().OnCommitted!.Committed(1, duplicate: false);
        ByteString answer = await reply.Task.WaitAsync(TimeSpan.FromSeconds(5));
        if (release2)
        {
            Assert.Equal(new byte[] { 0x0B, 0x06, 0x1C, 0x0D }, answer.ToArray());
        }
        else if (code is null)
        {
            Assert.True(answer.IsEmpty);
        }
        else
        {
            Assert.Equal(code, Ack(answer).Get("MSA-1"));
        }
    }
}
