using Akka.Actor;
using StreamEngine.Pipeline;
using StreamEngine.Pipeline.Admin;
using StreamEngine.Pipeline.Delivery;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// Poison messages at a sink, on the real SQLite store: the quarantined message blocks only its own patient, whose
/// later messages are parked in order while every other patient flows on; retry (after a fix) and skip release the
/// parked ones in order and are recorded; all of it survives a restart, and the conservation law holds throughout.
/// </summary>
public class QuarantineTests : SinkActorHarness
{
    private readonly GatedTarget _target;

    public QuarantineTests()
        : this(recordsEachDelivery: false)
    {
    }

    protected QuarantineTests(bool recordsEachDelivery)
        : base("q") => _target = new GatedTarget { RecordsEachDelivery = recordsEachDelivery };
    private int _snapshotEvery = 1000;

    private IActorRef StartSink() => StartSink(_target, snapshotEvery: _snapshotEvery);

    private async Task<SinkStatus> SettledStatusAsync(IActorRef sink, long received)
    {
        SinkStatus status = null!;
        await Kit.AwaitAssertAsync(async () =>
        {
            status = await StatusOf(sink);
            Assert.Equal(received, status.Watermark - status.Origin);
        }, TimeSpan.FromSeconds(30));
        return status;
    }

    [Fact]
    public async Task AFailedOnlyReplay_WhoseQuarantinedMessageFailsAgain_CountsWhatIsParkedBehindItAsHeldBack()
    {
        IActorRef sink = StartSink();
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        _target.Break("A1", "C1");
        Send("A1", "P1"); // poison, and fails again in the replay
        Send("A2", "P1"); // parked behind A1
        Send("A3", "P1"); // parked behind A1
        Send("C1", "P3"); // poison, nothing parked
        Send("B1", "P2");
        await SettledStatusAsync(sink, 5);

        ReplayResult result = await sink.Ask<ReplayResult>(new ReplayRequest("r1", null, null, null, true, null, false), TimeSpan.FromSeconds(30));

        // Every matched message is in the counts: A2 and A3 were neither delivered nor tried (it counted 2 of 4 failed).
        Assert.Equal((4L, 0L, 4L, 2L), (result.Messages, result.Delivered, result.Failed, result.HeldBehind));
        Assert.Equal(["B1"], _target.Written);
    }

    [Fact]
    public async Task AFailedOnlyReplay_WhereAParkedMessageFailsInTurn_CountsItAndWhatIsParkedBehindIt()
    {
        IActorRef sink = StartSink();
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        _target.Break("A1");
        Send("A1", "P1"); // poison; delivered by the replay after a fix
        Send("A2", "P1"); // parked; fails in turn
        Send("A3", "P1"); // parked; then parked behind A2
        await SettledStatusAsync(sink, 3);
        _target.Fix();
        _target.Break("A2");

        ReplayResult result = await sink.Ask<ReplayResult>(new ReplayRequest("r1", null, null, null, true, null, false), TimeSpan.FromSeconds(30));

        Assert.Equal((3L, 1L, 2L, 1L), (result.Messages, result.Delivered, result.Failed, result.HeldBehind));
        Assert.Equal(["A1"], _target.Written);
        Assert.Equal(["A2"], (await QuarantineOf(sink)).Select(q => q.ControlId));
    }

    [Fact]
    public async Task Poison_BlocksOnlyItsPatient_RetryAfterAFix_DeliversItAndWhatWasParked_InOrder()
    {
        IActorRef sink = StartSink();
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        _target.Break("A1");
        Send("A1", "P1"); // poison
        Send("B1", "P2");
        Send("A2", "P1"); // parked behind A1
        Send("B2", "P2");
        Send("A3", "P1"); // parked behind A1

        SinkStatus status = await SettledStatusAsync(sink, 5);
        Assert.Equal(new SinkCounts(Delivered: 2, Filtered: 0, Quarantined: 1, Parked: 2), status.Counts);
        Assert.Equal(["B1", "B2"], _target.Written);
        QuarantineItem item = Assert.Single((await QuarantineOf(sink)));
        Assert.Equal(("s/q/1", "Broken", "A1", 2), (item.Id, item.Reason, item.ControlId, item.Parked));

        // Retry while still broken: stays quarantined, nothing moves.
        QuarantineActionResult still = await RetryAsync(sink, "s/q/1");
        Assert.False(still.Ok);

        // A restart keeps the quarantine and what is parked behind it.
        await sink.GracefulStop(TimeSpan.FromSeconds(10));
        sink = StartSink();
        Assert.Equal(2, (await QuarantineOf(sink)).Single().Parked);

        _target.Fix(); // the configuration fix
        QuarantineActionResult retried = await RetryAsync(sink, "s/q/1");
        Assert.True(retried.Ok, retried.Message);
        Assert.Equal(["B1", "B2", "A1", "A2", "A3"], _target.Written);
        Send("A4", "P1"); // no longer blocked
        status = await SettledStatusAsync(sink, 6);
        await Kit.AwaitAssertAsync(() => Assert.Equal("A4", _target.Written[^1]), TimeSpan.FromSeconds(10));
        status = await StatusOf(sink);
        Assert.Equal(new SinkCounts(6, 0, 0, 0), status.Counts);
        Assert.Empty((await QuarantineOf(sink)));
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(2)] // snapshots every other event, and the events before each are deleted: recovery from a snapshot
    public async Task Skip_RecordsWhy_ReleasesTheParked_AndAParkedOneThatFailsTakesItsPlace(int snapshotEvery)
    {
        _snapshotEvery = snapshotEvery;
        IActorRef sink = StartSink();
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        _target.Break("A1", "A3");
        Send("A1", "P1");
        Send("A2", "P1");
        Send("A3", "P1");
        Send("A4", "P1");
        Send("B1", "P2");
        await SettledStatusAsync(sink, 5);
        Assert.Equal(["B1"], _target.Written);

        QuarantineActionResult skipped = await sink.Ask<QuarantineActionResult>(new SkipQuarantined("s/q/1", "superseded by A2"), TimeSpan.FromSeconds(10));
        Assert.True(skipped.Ok, skipped.Message);
        Assert.Equal(["B1", "A2"], _target.Written); // A3 fails on release: it is quarantined and A4 stays parked behind it
        QuarantineItem next = Assert.Single((await QuarantineOf(sink)));
        Assert.Equal(("s/q/3", 1), (next.Id, next.Parked));
        Assert.Equal(new SinkCounts(Delivered: 2, Filtered: 1, Quarantined: 1, Parked: 1),
            (await StatusOf(sink)).Counts);

        // After a restart the same state comes back from the sink's journal (and its snapshot).
        await sink.GracefulStop(TimeSpan.FromSeconds(10));
        if (snapshotEvery == 2)
        {
            await Kit.AwaitAssertAsync(async () =>
            {
                await using var db = new Microsoft.Data.Sqlite.SqliteConnection(StreamEngine.Host.SqliteStore.ConnectionString(Directory));
                await db.OpenAsync();
                await using var count = db.CreateCommand();
                count.CommandText = "SELECT COUNT(*) FROM snapshot WHERE persistence_id = 'sink/s/q/default'";
                Assert.True((long)(await count.ExecuteScalarAsync())! >= 1); // the restart below recovers from a snapshot
            }, TimeSpan.FromSeconds(10));
        }

        sink = StartSink();
        SinkStatus restarted = await StatusOf(sink);
        Assert.Equal(new SinkCounts(2, 1, 1, 1), restarted.Counts);
        Assert.Equal("s/q/3", Assert.Single((await QuarantineOf(sink))).Id);
    }

    [Fact]
    public async Task AMerge_WaitsForBothPatients_AndNeverOvertakesTheOtherPatientsQuarantine()
    {
        IActorRef sink = StartSink();
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        _target.Break("A1", "B1");
        Send("A1", "P1");             // quarantined: blocks P1
        Send("B1", "P2");             // quarantined: blocks P2
        Send("M1", "P1", prior: "P2"); // a merge of P2 into P1: parked
        Send("B2", "P2");             // parked behind B1
        await SettledStatusAsync(sink, 4);

        _target.Fix();
        Assert.True((await RetryAsync(sink, "s/q/1")).Ok);
        Assert.Equal(["A1"], _target.Written); // M1 still waits: its other patient is blocked by B1
        Assert.True((await RetryAsync(sink, "s/q/2")).Ok);
        Assert.Equal(["A1", "B1", "M1", "B2"], _target.Written);
        Assert.Equal(new SinkCounts(4, 0, 0, 0), (await StatusOf(sink)).Counts);
    }

    [Fact]
    public async Task AMerge_ReleasingTheOtherPatientFirst_KeepsTheirLaterMessagesBehindTheMerge()
    {
        IActorRef sink = StartSink();
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        _target.Break("A1", "B1");
        Send("A1", "P1");
        Send("B1", "P2");
        Send("M1", "P1", prior: "P2"); // parked behind A1, and holds P2 too
        Send("B2", "P2");             // parked behind B1
        await SettledStatusAsync(sink, 4);

        _target.Fix();
        Assert.True((await RetryAsync(sink, "s/q/2")).Ok);
        Assert.Equal(["B1"], _target.Written); // B2 must not overtake M1, which is P2's earlier message
        Send("B3", "P2");                      // and neither may a new one
        await SettledStatusAsync(sink, 5);
        Assert.Equal(["B1"], _target.Written);

        Assert.True((await RetryAsync(sink, "s/q/1")).Ok);
        Assert.Equal(["B1", "A1", "M1", "B2", "B3"], _target.Written);
    }

    [Fact]
    public async Task ASkipCutShortByACrash_CarriesOnAfterTheRestart_EachParkedMessageOnceInOrder()
    {
        IActorRef sink = StartSink();
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        _target.Break("A1");
        foreach (string id in (string[])["A1", "A2", "A3", "A4", "A5"])
        {
            Send(id, "P1");
        }

        Send("B1", "P2");
        await SettledStatusAsync(sink, 6);
        _target.CrashBefore("A4"); // the process dies as the release is about to write A4

        QuarantineActionResult cut = await sink.Ask<QuarantineActionResult>(new SkipQuarantined("s/q/1", "superseded"), TimeSpan.FromSeconds(10));
        Assert.False(cut.Ok);
        Assert.Contains("it carries the release on once it has restarted", cut.Message, StringComparison.Ordinal);

        // Nobody gives the skip again: the restarted sink carries it on, and A2 and A3 (in the output already) are not
        // written twice.
        await Kit.AwaitAssertAsync(async () => Assert.Empty(await QuarantineOf(sink)), TimeSpan.FromSeconds(30));
        Assert.Equal(["B1", "A2", "A3", "A4", "A5"], _target.Written);
        Assert.Equal(new SinkCounts(Delivered: 5, Filtered: 1, Quarantined: 0, Parked: 0), (await StatusOf(sink)).Counts);
    }

    [Fact]
    public async Task ALongRelease_AnswersStatusBetweenItsSteps_EachParkedMessageOnceInOrder()
    {
        int parked = (2 * SinkActor.FileReleaseStep) + 500;
        IActorRef sink = StartSink();
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        _target.Break("A0");
        string[] ids = [.. Enumerable.Range(0, parked + 1).Select(i => $"A{i}")];
        foreach (string id in ids)
        {
            Send(id, "P1");
        }

        await SettledStatusAsync(sink, ids.Length);
        // Asked from inside the release, once its second step is under way: answered before the release ends, with the
        // first step counted (on a sink that records each delivery, after the message under way).
        Task<SinkStatus>? during = null;
        string askAt = ids[SinkActor.FileReleaseStep + 200];
        _target.BeforeWrite = id => during ??= id == askAt ? StatusOf(sink) : null;

        QuarantineActionResult skipped = await sink.Ask<QuarantineActionResult>(new SkipQuarantined("s/q/1", "superseded"), TimeSpan.FromSeconds(60));

        Assert.True(skipped.Ok, skipped.Message);
        Assert.NotNull(during);
        SinkCounts counts = (await during.WaitAsync(TimeSpan.FromSeconds(10))).Counts;
        Assert.InRange(counts.Parked, 1, parked - SinkActor.FileReleaseStep); // none left: status waited for the whole release
        Assert.Equal(parked - counts.Parked, counts.Delivered);
        Assert.Equal(ids[1..], _target.Written);
        Assert.Equal(new SinkCounts(Delivered: parked, Filtered: 1, Quarantined: 0, Parked: 0), (await StatusOf(sink)).Counts);
    }

    [Fact]
    public async Task RecordProgress_WaitsForTheLanesUnderWay_ButNotForOneStuckOnASlowServer()
    {
        IActorRef sink = StartSink();
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        Send("A1", "P1");
        await SettledStatusAsync(sink, 1);
        _target.Hold("B1"); // its lane waits, as on a server that does not answer
        Send("B1", "P2");
        await Kit.AwaitConditionAsync(() => Task.FromResult(_target.Gated("B1")), TimeSpan.FromSeconds(30));

        // The engine stopping: answered after a moment although B1's lane is still out, with what is settled recorded.
        await sink.Ask<ProgressRecorded>(RecordProgress.Instance, TimeSpan.FromSeconds(20));
        Assert.Equal(["A1"], _target.Written);
        _target.Release("B1"); // the lane still finishes (counted when the engine next starts)
        await Kit.AwaitAssertAsync(() => Assert.Equal(["A1", "B1"], _target.Written), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ARetryWhoseLineWentOutButWasNotRecorded_CarriesOnAfterTheRestart()
    {
        IActorRef sink = StartSink();
        Kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        _target.Break("A1");
        Send("A1", "P1");
        Send("A2", "P1");
        Send("A3", "P1");
        Send("B1", "P2");
        SinkStatus before = await SettledStatusAsync(sink, 4);
        Assert.Equal(new SinkCounts(Delivered: 1, Filtered: 0, Quarantined: 1, Parked: 2), before.Counts);
        await sink.GracefulStop(TimeSpan.FromSeconds(10));

        // A retry wrote A1's line, and the engine died before recording it: the output holds the line (and B1's, which
        // its last watermark may not count yet), the journal still has A1 quarantined with A2 and A3 behind it.
        _target.Fix();
        _target.WrittenBeforeACrash.UnionWith([1, 4]);
        sink = StartSink();
        await Kit.AwaitAssertAsync(async () =>
        {
            Assert.Empty(await QuarantineOf(sink));
            Assert.Equal(new SinkCounts(Delivered: 4, Filtered: 0, Quarantined: 0, Parked: 0), (await StatusOf(sink)).Counts);
        }, TimeSpan.FromSeconds(30));
        Assert.Equal(["B1", "A2", "A3"], _target.Written); // A1 is counted from the output, not written again
    }

    // Writes control ids in order; quarantines the ones listed as broken. The actor thread writes, the test reads: locked.
}

/// <summary>
/// The same on a sink that records each delivery (a FHIR server, onward MLLP): a release goes one journaled step at a
/// time, and a restart carries on one cut short.
/// </summary>
public sealed class QuarantineTestsOnASinkThatRecordsEachDelivery() : QuarantineTests(recordsEachDelivery: true);
