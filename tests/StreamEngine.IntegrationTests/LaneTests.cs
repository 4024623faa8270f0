using Akka.Actor;
using StreamEngine.Pipeline;
using StreamEngine.Pipeline.Admin;
using StreamEngine.Pipeline.Delivery;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// A sink's lanes on the real SQLite store: a patient whose delivery hangs holds back only that patient; the others are
/// delivered meanwhile, and the watermark records them (done above its low mark) so a restart re-sends only what was
/// not done, never what another lane finished.
/// </summary>
public sealed class LaneTests() : SinkActorHarness("l")
{
    private IActorRef StartSink(GatedTarget target, int lanes = 4) => StartSink(target, Sink with { Lanes = lanes });

    [Theory]
    [InlineData(20)] // the engine's delay
    [InlineData(3_600_000)] // a flush pending for an hour
    public async Task APersistedWatermark_NeverCountsALineNotYetOnDisk_AndIsSavedEverySecondEvenWhileAFlushIsPending(int flushDelayMs)
    {
        // Lines go to the OS in batches, to the disk (fsync mode) before the watermark counting them is persisted. Under
        // a steady trickle a flush is nearly always pending when the once-a-second save comes: the save must not wait
        // for a moment without one (it moved the watermark only every 1,000 messages); it syncs what it counts itself.
        var target = new GatedTarget();
        IActorRef sink = StartSink(target, flushDelay: TimeSpan.FromMilliseconds(flushDelayMs));
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        SendOnePerPatient(5);

        await AwaitStatusAsync(sink, status => Assert.Equal(5L, status.Persisted));
        Assert.Equal(5, target.Synced);
    }

    [Fact]
    public async Task LinesTheLastRunLeftPastItsWatermark_AreNotWrittenAgain_AfterASecondRestartBeforeTheyAreCounted()
    {
        // 1001-1003 were written by a run killed before its watermark counted them: found at open, counted, not written
        // again. A watermark saved while they are not yet counted (here the catch-up is stuck behind A1, one patient's
        // 999 messages) must keep the position where they start, or a second restart would not find them.
        Send("Q1", "Q");
        for (int i = 1; i <= 999; i++)
        {
            Send($"A{i}", "P0");
        }

        Send("H1", "R");
        Send("H2", "S");
        Send("H3", "T");
        var target = new LinesTarget((1001, "H1"), (1002, "H2"), (1003, "H3")) { HeldId = "A1" };
        IActorRef sink = StartSink(target);
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        await AwaitStatusAsync(sink, status => Assert.Equal(1L, status.Persisted)); // Q1 done: the once-a-second save
        Kit.Watch(sink);
        Kit.Sys.Stop(sink);
        Kit.ExpectTerminated(sink, TimeSpan.FromSeconds(30));

        target.Gate.TrySetResult();
        IActorRef again = StartSink(target);
        await AwaitStatusAsync(again, status => Assert.Equal(1003L, status.Persisted));
        Assert.Equal(["H1", "H2", "H3"], target.Ids.Where(id => id[0] == 'H'));
        Assert.Equal(1003, target.Ids.Count);
    }

    [Theory]
    [InlineData(false, false)] // written when the result is back on the actor
    [InlineData(true, false)] // a FHIR server: sent while preparing, so a held message must not even start
    [InlineData(false, true)] // a file: A3 may be prepared before A2's failure is known, and must not be written
    public async Task AReplay_NeverDeliversAPatientsMessage_AfterOneOfTheirsFailed(bool deliversWhilePreparing, bool preparesAhead)
    {
        var target = new GatedTarget { DeliversWhilePreparing = deliversWhilePreparing, PreparesAhead = preparesAhead };
        IActorRef sink = StartSink(target);
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        Send("A1", "P1");
        Send("B1", "P2");
        Send("A2", "P1");
        Send("A3", "P1");
        Send("B2", "P2");
        await Kit.AwaitAssertAsync(() => Assert.Equal(5, target.Written.Count), TimeSpan.FromSeconds(30));

        target.Break("A2"); // fails in the replay: A3 after it must not go, P2 is not held back
        ReplayResult result = await sink.Ask<ReplayResult>(new ReplayRequest("r1", 1, null, null, false, null, false), TimeSpan.FromSeconds(30));

        Assert.Equal((5L, 3L, 2L, 1L), (result.Messages, result.Delivered, result.Failed, result.HeldBehind));
        List<string> replayed = target.Written.Skip(5).ToList();
        Assert.Equal(["A1", "B1", "B2"], replayed.Order());
        Assert.Equal(["B1", "B2"], replayed.Where(id => id[0] == 'B'));
    }

    [Theory]
    [InlineData(true, false)] // a FHIR server down past its retries: the request fails while preparing
    [InlineData(false, true)] // a file that cannot be written for a moment: the write fails
    public async Task AReplayCutShortByAFailureARetryMayCure_RunsAgainFromItsStart_AndLeavesEveryPatientCurrent(bool deliversWhilePreparing, bool preparesAhead)
    {
        // Ending the replay there, with the failure counted, left P1 with its older message applied last and nothing to run
        // the rest: the sink restarts instead (as live work does) and runs the replay again once it has caught up.
        var target = new GatedTarget { DeliversWhilePreparing = deliversWhilePreparing, RecordsEachDelivery = deliversWhilePreparing, PreparesAhead = preparesAhead };
        IActorRef sink = StartSink(target);
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        Send("A1", "P1");
        Send("B1", "P2");
        Send("A2", "P1");
        await AwaitStatusAsync(sink, status => Assert.Equal(3L, status.Persisted)); // live work recorded: not sent again after the restart

        target.Fail("A2");
        ReplayResult cut = await sink.Ask<ReplayResult>(new ReplayRequest("r1", 1, null, null, false, null, false), TimeSpan.FromSeconds(30));

        Assert.Contains("it runs the replay again from its start once it has restarted", cut.Error, StringComparison.Ordinal);
        await Kit.AwaitAssertAsync(async () =>
        {
            Assert.Equal(2, target.Written.Count(id => id == "A2")); // the second run delivered it
            Assert.Equal("live", (await StatusOf(sink)).State); // and ended
        }, TimeSpan.FromSeconds(30));
        List<string> written = target.Written;
        Assert.Equal("A2", written.Last(id => id[0] == 'A')); // P1 ends at its newest message, not the older one re-applied
        Assert.Equal(["A1", "A2", "B1"], written.TakeLast(3).Order()); // the second run went from the start
    }

    [Fact]
    public async Task AReplayThatKeepsFailing_RunsFiveTimesAtMost_ThenIsRecordedAsEnded()
    {
        // Each restart ran it again from its start, for ever, re-sending the range every time; cut short by a fifth failure
        // in a row, it is not run again (said in the log) and the sink goes on with live work.
        var target = new GatedTarget { DeliversWhilePreparing = true, RecordsEachDelivery = true };
        var failures = new FailureStreak(); // the supervisor's, which outlives each restart
        IActorRef sink = StartSink(target, failures: failures);
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        Send("A1", "P1");
        Send("A2", "P1");
        await Kit.AwaitAssertAsync(() => Assert.Equal(2, target.Written.Count), TimeSpan.FromSeconds(30));

        target.Fail("A2", times: 100);
        ReplayResult cut = await sink.Ask<ReplayResult>(new ReplayRequest("r1", 1, null, null, false, null, false), TimeSpan.FromSeconds(30));
        Assert.Contains("runs the replay again", cut.Error, StringComparison.Ordinal);
        await Kit.AwaitAssertAsync(async () =>
        {
            Assert.Equal(5, target.Failures);
            Assert.Equal("live", (await StatusOf(sink)).State);
        }, TimeSpan.FromSeconds(60));

        // Recorded as ended: a sink started afresh (a new engine: its failure count starts at 0) does not run r1 again.
        target.Fail("A2", times: 0);
        int written = target.Written.Count;
        Kit.Watch(sink);
        Kit.Sys.Stop(sink);
        Kit.FishForMessage(m => m is Terminated t && t.ActorRef.Equals(sink), TimeSpan.FromSeconds(30)); // past each restart's SinkReady
        IActorRef again = StartSink(target, failures: new FailureStreak());
        Kit.FishForMessage(m => m is SinkReady, TimeSpan.FromSeconds(30));
        await AwaitStatusAsync(again, status => Assert.Equal("live", status.State));
        ReplayResult next = await again.Ask<ReplayResult>(new ReplayRequest("r2", 1, null, null, false, null, false), TimeSpan.FromSeconds(30));
        Assert.Equal((null, 2L, 2L), (next.Error, next.Messages, next.Delivered));
        Assert.Equal(written + 2, target.Written.Count); // r2's two, and nothing of r1
        Assert.Equal(5, target.Failures);
    }

    [Fact]
    public async Task AReplayToAFile_PreparesOnePatientsMessagesAtOnce_AndWritesThemInJournalOrder()
    {
        // One patient's whole stream: live, one message after another; replayed to a target that only computes while
        // preparing (the file sink), the lanes prepare the later ones while the first is still being worked out.
        var target = new GatedTarget { PreparesAhead = true, LaneBatch = 2 };
        IActorRef sink = StartSink(target);
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        string[] ids = [.. Enumerable.Range(1, 12).Select(i => $"A{i}")];
        foreach (string id in ids)
        {
            Send(id, "P1");
        }

        await Kit.AwaitAssertAsync(() => Assert.Equal(ids, target.Written), TimeSpan.FromSeconds(30));
        int live = target.PreparedCount;
        target.Hold("A1");
        Task<ReplayResult> replay = sink.Ask<ReplayResult>(new ReplayRequest("r1", 1, null, null, false, null, false), TimeSpan.FromSeconds(30));

        // A1 is held on its lane; the other lanes prepare A2... meanwhile, and nothing is written before A1.
        await Kit.AwaitAssertAsync(() => Assert.True(target.PreparedCount - live >= 3, $"{target.PreparedCount - live} prepared while A1 was held"),
            TimeSpan.FromSeconds(30));
        Assert.Equal(ids.Length, target.Written.Count);
        target.Release("A1");

        ReplayResult result = await replay;
        Assert.Null(result.Error);
        Assert.Equal((12L, 12L, 0L), (result.Messages, result.Delivered, result.Failed));
        Assert.Equal(ids, target.Written.Skip(ids.Length));
    }

    [Fact]
    public async Task ASecondReplayWhileOneRuns_IsRefusedWithItsReason_ADryRunIsCounted_AndTheFirstCompletes()
    {
        var target = new GatedTarget();
        IActorRef sink = StartSink(target);
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        Send("A1", "P1");
        await Kit.AwaitAssertAsync(() => Assert.Single(target.Written), TimeSpan.FromSeconds(30));

        target.Hold("A1"); // the first replay's delivery waits
        Task<ReplayResult> first = sink.Ask<ReplayResult>(new ReplayRequest("r1", 1, null, null, false, null, false), TimeSpan.FromSeconds(30));
        ReplayResult second = await sink.Ask<ReplayResult>(new ReplayRequest("r2", 1, null, null, false, null, false), TimeSpan.FromSeconds(30));
        Assert.Contains("another replay", second.Error, StringComparison.Ordinal);
        Assert.Null(second.Output); // nothing was written for it
        // A dry run only counts: it is answered beside the replay under way, with and without a filter.
        ReplayResult dry = await sink.Ask<ReplayResult>(new ReplayRequest("r3", 1, null, null, false, null, true), TimeSpan.FromSeconds(30));
        Assert.Equal((null, 1L, 1L, 0L, true), (dry.Error, dry.Matched, dry.Messages, dry.Delivered, dry.DryRun));
        dry = await sink.Ask<ReplayResult>(new ReplayRequest("r4", 1, null, "ADT", false, null, true), TimeSpan.FromSeconds(30));
        Assert.Equal((null, 1L, 1L), (dry.Error, dry.Matched, dry.Messages));
        dry = await sink.Ask<ReplayResult>(new ReplayRequest("r5", 1, null, "ORU", false, null, true), TimeSpan.FromSeconds(30));
        Assert.Equal((null, 0L, 0L), (dry.Error, dry.Matched, dry.Messages));
        QuarantineActionResult retry = await sink.Ask<QuarantineActionResult>(new RetryQuarantined("s/l/1"), TimeSpan.FromSeconds(30));
        Assert.False(retry.Ok); // answered at once, not queued behind the replay
        Assert.Contains("a replay of this sink's stream is running", retry.Message, StringComparison.Ordinal);

        target.Release("A1");
        ReplayResult done = await first;
        Assert.Null(done.Error);
        Assert.Equal((1L, 1L, "r1"), (done.Messages, done.Delivered, done.Output));
    }

    [Fact]
    public async Task AfterARestart_WhatTheLastRunLeftWithTheOs_IsSyncedBeforeAWatermarkCountsIt()
    {
        // Written by the run before a kill -9 but past its last watermark: found in the file, counted, not written
        // again; it may still be only in the OS's cache, so the watermark counting it must sync the file first.
        var target = new GatedTarget();
        target.WrittenBeforeACrash.UnionWith([1L, 2L, 3L]);
        IActorRef sink = StartSink(target);
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        SendOnePerPatient(3);

        await AwaitStatusAsync(sink, status => Assert.Equal(3L, status.Persisted));
        Assert.Empty(target.Written);
        Assert.True(target.DurableFlushes > 0, "a watermark counted lines of the last run without syncing the file");
    }

    [Fact]
    public async Task ALaneTakingSeveralReadyMessages_KeepsEachPatientsOrder_AndAPoisonParksOnlyItsPatient()
    {
        // One lane, a target that prepares up to 8 ready messages in a row (as the file sink does): a backlog builds
        // behind a held message, then goes in groups of different patients.
        var target = new GatedTarget { LaneBatch = 8 };
        target.Hold("X1");
        target.Break("A1");
        IActorRef sink = StartSink(target, lanes: 1);
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        Send("X1", "P0"); // holds the only lane
        Send("A1", "P1"); // poison
        Send("B1", "P2");
        Send("A2", "P1"); // parked behind A1
        Send("C1", "P3");
        Send("B2", "P2");
        Send("A3", "P1"); // parked behind A1
        await AwaitStatusAsync(sink, status => Assert.Equal(7, status.InLanes));

        target.Release("X1");
        await AwaitStatusAsync(sink, status => Assert.Equal(new SinkCounts(Delivered: 4, Filtered: 0, Quarantined: 1, Parked: 2), status.Counts));
        Assert.Equal(["X1", "B1", "C1", "B2"], target.Written);
        Assert.True(target.MostPreparedAhead > 1, "the lane never took more than one message at a time");

        target.Fix();
        QuarantineActionResult retried = await RetryAsync(sink, "s/l/2");
        Assert.True(retried.Ok, retried.Message);
        Assert.Equal(["X1", "B1", "C1", "B2", "A1", "A2", "A3"], target.Written);

        // The only lane is free again (a group whose messages were all parked ended its lane too).
        Send("D1", "P4");
        await Kit.AwaitAssertAsync(() => Assert.Equal("D1", target.Written[^1]), TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task AHangingPatient_HoldsBackOnlyItself_AndARestartResendsOnlyWhatWasNotDone()
    {
        var first = new GatedTarget();
        first.Hold("A1");
        IActorRef sink = StartSink(first);
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        Send("A1", "P1"); // hangs
        Send("B1", "P2");
        Send("A2", "P1"); // waits behind A1
        Send("C1", "P3");
        Send("B2", "P2");

        await Kit.AwaitAssertAsync(() => Assert.Equal(["B1", "B2", "C1"], first.Written.Order()), TimeSpan.FromSeconds(30));
        Assert.Equal(["B1", "B2"], first.Written.Where(id => id[0] == 'B')); // one patient's order

        // The low mark stays before A1, but the persisted watermark records the three done above it.
        await AwaitStatusAsync(sink, status => Assert.Equal((0L, 3L, 2, 4), (status.Persisted, status.PersistedAbove, status.InLanes, status.Lanes)));

        // The sink stops; A1's delivery, still hanging, is cancelled (so it cannot land after the next incarnation's).
        // A restart delivers A1 then A2, nothing else.
        await sink.GracefulStop(TimeSpan.FromSeconds(10));
        Assert.Equal(["A1"], first.Cancelled);
        var second = new GatedTarget();
        sink = StartSink(second);
        await Kit.AwaitAssertAsync(() => Assert.Equal(["A1", "A2"], second.Written), TimeSpan.FromSeconds(30));
        first.ReleaseAll(); // the abandoned lane finishes late: its answer reaches no one
        await AwaitStatusAsync(sink, status => Assert.Equal((5L, 0L, new SinkCounts(5, 0, 0, 0)), (status.Watermark, status.PersistedAbove, status.Counts)));
        Assert.Equal(["B1", "B2", "C1"], first.Written.Order()); // A1's late answer wrote nothing
        Assert.Equal(["A1", "A2"], second.Written); // nothing another lane had finished was sent again
    }

    [Fact]
    public async Task AfterARestart_WhatWasWrittenBeforeTheCrash_MovesTheLowMarkPastWhatLanesHadFinished_AndNothingIsSentTwice()
    {
        var first = new GatedTarget();
        first.Hold("A1");
        first.Hold("B1");
        IActorRef sink = StartSink(first);
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        Send("A1", "P1"); // hangs
        Send("B1", "P2"); // hangs
        Send("C1", "P3");
        Send("D1", "P4");
        await AwaitStatusAsync(sink, status => Assert.Equal(2L, status.PersistedAbove));
        await sink.GracefulStop(TimeSpan.FromSeconds(10));

        // The output says A1 and B1 reached it before the crash: settled at once on restart, which carries the low mark
        // past C1 and D1 (done above it); those are not sent again.
        var second = new GatedTarget();
        second.WrittenBeforeACrash.UnionWith([1, 2]);
        sink = StartSink(second);
        Send("E1", "P5");
        await Kit.AwaitAssertAsync(() => Assert.Equal(["E1"], second.Written), TimeSpan.FromSeconds(30));
        await AwaitStatusAsync(sink, status => Assert.Equal((5L, new SinkCounts(5, 0, 0, 0)), (status.Watermark, status.Counts)));
        first.ReleaseAll();
    }

    [Fact]
    public async Task APatientsMessagesStillInTheLanes_WhenItsQuarantineIsReleased_AreNotOvertaken()
    {
        var target = new GatedTarget();
        target.Hold("Q1");
        target.Hold("P1");
        target.Hold("R1");
        target.Break("P1");
        IActorRef sink = StartSink(target, lanes: 2);
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        Send("Q1", "Q"); // hangs in one lane
        Send("P1", "P"); // hangs in the other, then fails: quarantined
        Send("R1", "R"); // waits for a lane
        Send("P2", "P"); // waits behind P1
        await AwaitStatusAsync(sink, status => Assert.Equal(4, status.InLanes));
        target.Release("P1"); // quarantined; R1 takes the free lane and hangs; P2 is ready but has no lane
        await Kit.AwaitAssertAsync(async () =>
            Assert.Single((await QuarantineOf(sink))), TimeSpan.FromSeconds(30));
        Send("P3", "P"); // P is blocked, but P2 is still in the lanes: P3 queues behind it rather than being parked ahead

        target.Fix();
        QuarantineActionResult early = await RetryAsync(sink, "s/l/2");
        Assert.False(early.Ok);
        Assert.Contains("busy", early.Message, StringComparison.Ordinal);

        target.ReleaseAll(); // Q1 and R1 finish; P2 and P3 are parked, in order
        await Kit.AwaitAssertAsync(async () =>
            Assert.Equal(2, (await QuarantineOf(sink)).Single().Parked), TimeSpan.FromSeconds(30));
        QuarantineActionResult retried = await RetryAsync(sink, "s/l/2");
        Assert.True(retried.Ok, retried.Message);
        Assert.Equal(["P1", "P2", "P3"], target.Written.Where(id => id[0] == 'P'));
        await sink.GracefulStop(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task AQuarantinedMessageWithoutAPatient_IsReleased_WhileOtherSuchMessagesAreInTheLanes()
    {
        var target = new GatedTarget();
        target.Break("U1");
        target.Hold("U2");
        IActorRef sink = StartSink(target);
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        Send("U1", patient: ""); // no patient key: quarantined
        Send("U2", patient: ""); // no patient key: hangs in the lanes
        await Kit.AwaitAssertAsync(async () =>
            Assert.Single((await QuarantineOf(sink))), TimeSpan.FromSeconds(30));
        target.Fix();
        QuarantineActionResult retried = await RetryAsync(sink, "s/l/1");
        Assert.True(retried.Ok, retried.Message); // nothing of a patient to overtake: not "busy"
        Assert.Equal(["U1"], target.Written);
        target.ReleaseAll();
        await Kit.AwaitAssertAsync(() => Assert.Equal(["U1", "U2"], target.Written), TimeSpan.FromSeconds(30));
        await sink.GracefulStop(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task AMerge_WaitsForBothPatients_AndTheirLaterMessagesWaitForIt()
    {
        var target = new GatedTarget();
        target.Hold("A1");
        IActorRef sink = StartSink(target);
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        Send("A1", "P1"); // hangs
        Send("B1", "P2");
        Send("M1", "P2", prior: "P1"); // a merge: P1 into P2
        Send("B2", "P2"); // after the merge
        Send("C1", "P3");

        await Kit.AwaitAssertAsync(() => Assert.Equal(["B1", "C1"], target.Written.Order()), TimeSpan.FromSeconds(30));
        target.ReleaseAll();
        await Kit.AwaitAssertAsync(() => Assert.Equal(5, target.Written.Count), TimeSpan.FromSeconds(30));
        List<string> written = target.Written;
        Assert.True(written.IndexOf("A1") < written.IndexOf("M1") && written.IndexOf("B1") < written.IndexOf("M1") && written.IndexOf("M1") < written.IndexOf("B2"),
            string.Join(",", written));
        await sink.GracefulStop(TimeSpan.FromSeconds(10));
    }
}
