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
public sealed class QuarantineTests : IAsyncLifetime
{
    private static readonly ListenerSettings Listener = new() { Id = "q", Name = "q" };
    private static readonly SinkSettings SinkSettings = new() { Id = "s", Name = "s", StartFrom = StartFrom.Earliest };
    private readonly PersistenceHost _persistence = new();
    private readonly GatedTarget _target = new();
    private Akka.TestKit.Xunit2.TestKit _kit = null!;
    private IActorRef _journal = ActorRefs.Nobody;
    private int _correlation;

    public async Task InitializeAsync()
    {
        _kit = await _persistence.StartAsync("sqlite");
        _journal = _kit.Sys.ActorOf(IngestJournal.Props(Listener.PersistenceId, Listener.Id,
            new IngestOptions(_persistence.Store!.Index, new DedupeSettings(), _persistence.Settings!.ReadJournalPluginId)));
    }

    public async Task DisposeAsync() => await _persistence.DisposeAsync();

    private int _snapshotEvery = 1000;

    private IActorRef StartSink() => _kit.Sys.ActorOf(SinkActor.Props(SinkSettings, Listener, _journal, _ => _target,
        _persistence.Settings!.ReadJournalPluginId, Durability.Fsync, _kit.TestActor, _snapshotEvery));

    private void Send(string controlId, string patient, string prior = "")
    {
        byte[] raw = System.Text.Encoding.ASCII.GetBytes($"MSH|^~\\&|PAS|RX1|||2026||ADT^A08|{controlId}|P|2.4\rPID|1||{patient}^^^R^MR\r");
        _journal.Tell(new Append(++_correlation, new MessageReceived(raw, DateTimeOffset.UtcNow, "PAS", "RX1", "ADT^A08", controlId, "2026",
            MessageFingerprint.ContentHash(raw), "hash-" + patient, prior.Length == 0 ? "" : "hash-" + prior)), _kit.TestActor);
        _kit.FishForMessage(m => m is Journaled, TimeSpan.FromSeconds(30)); // past any SinkReady of a restarted sink
    }

    private async Task<SinkStatus> SettledStatusAsync(IActorRef sink, long received)
    {
        SinkStatus status = null!;
        await _kit.AwaitAssertAsync(async () =>
        {
            status = await sink.Ask<SinkStatus>(GetSinkStatus.Instance, TimeSpan.FromSeconds(10));
            Assert.Equal(received, status.Watermark - status.Origin);
        }, TimeSpan.FromSeconds(30));
        return status;
    }

    [Fact]
    public async Task Poison_BlocksOnlyItsPatient_RetryAfterAFix_DeliversItAndWhatWasParked_InOrder()
    {
        IActorRef sink = StartSink();
        _kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        _target.Break("A1");
        Send("A1", "P1"); // poison
        Send("B1", "P2");
        Send("A2", "P1"); // parked behind A1
        Send("B2", "P2");
        Send("A3", "P1"); // parked behind A1

        SinkStatus status = await SettledStatusAsync(sink, 5);
        Assert.Equal(new SinkCounts(Delivered: 2, Filtered: 0, Quarantined: 1, Parked: 2), status.Counts);
        Assert.Equal(["B1", "B2"], _target.Written);
        QuarantineItem item = Assert.Single((await sink.Ask<QuarantineList>(new ListQuarantine(), TimeSpan.FromSeconds(10))).Items);
        Assert.Equal(("s/q/1", "Broken", "A1", 2), (item.Id, item.Reason, item.ControlId, item.Parked));

        // Retry while still broken: stays quarantined, nothing moves.
        QuarantineActionResult still = await sink.Ask<QuarantineActionResult>(new RetryQuarantined("s/q/1"), TimeSpan.FromSeconds(10));
        Assert.False(still.Ok);

        // A restart keeps the quarantine and what is parked behind it.
        await sink.GracefulStop(TimeSpan.FromSeconds(10));
        sink = StartSink();
        Assert.Equal(2, (await sink.Ask<QuarantineList>(new ListQuarantine(), TimeSpan.FromSeconds(10))).Items.Single().Parked);

        _target.Fix(); // the configuration fix
        QuarantineActionResult retried = await sink.Ask<QuarantineActionResult>(new RetryQuarantined("s/q/1"), TimeSpan.FromSeconds(10));
        Assert.True(retried.Ok, retried.Message);
        Assert.Equal(["B1", "B2", "A1", "A2", "A3"], _target.Written);
        Send("A4", "P1"); // no longer blocked
        status = await SettledStatusAsync(sink, 6);
        await _kit.AwaitAssertAsync(() => Assert.Equal("A4", _target.Written[^1]), TimeSpan.FromSeconds(10));
        status = await sink.Ask<SinkStatus>(GetSinkStatus.Instance, TimeSpan.FromSeconds(10));
        Assert.Equal(new SinkCounts(6, 0, 0, 0), status.Counts);
        Assert.Empty((await sink.Ask<QuarantineList>(new ListQuarantine(), TimeSpan.FromSeconds(10))).Items);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(2)] // snapshots every other event, and the events before each are deleted: recovery from a snapshot
    public async Task Skip_RecordsWhy_ReleasesTheParked_AndAParkedOneThatFailsTakesItsPlace(int snapshotEvery)
    {
        _snapshotEvery = snapshotEvery;
        IActorRef sink = StartSink();
        _kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
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
        QuarantineItem next = Assert.Single((await sink.Ask<QuarantineList>(new ListQuarantine(), TimeSpan.FromSeconds(10))).Items);
        Assert.Equal(("s/q/3", 1), (next.Id, next.Parked));
        Assert.Equal(new SinkCounts(Delivered: 2, Filtered: 1, Quarantined: 1, Parked: 1),
            (await sink.Ask<SinkStatus>(GetSinkStatus.Instance, TimeSpan.FromSeconds(10))).Counts);

        // After a restart the same state comes back from the sink's journal (and its snapshot).
        await sink.GracefulStop(TimeSpan.FromSeconds(10));
        if (snapshotEvery == 2)
        {
            await _kit.AwaitAssertAsync(async () =>
            {
                await using var db = new Microsoft.Data.Sqlite.SqliteConnection(StreamEngine.Host.SqliteStore.ConnectionString(_persistence.Directory));
                await db.OpenAsync();
                await using var count = db.CreateCommand();
                count.CommandText = "SELECT COUNT(*) FROM snapshot WHERE persistence_id = 'sink/s/q/default'";
                Assert.True((long)(await count.ExecuteScalarAsync())! >= 1); // the restart below recovers from a snapshot
            }, TimeSpan.FromSeconds(10));
        }

        sink = StartSink();
        SinkStatus restarted = await sink.Ask<SinkStatus>(GetSinkStatus.Instance, TimeSpan.FromSeconds(10));
        Assert.Equal(new SinkCounts(2, 1, 1, 1), restarted.Counts);
        Assert.Equal("s/q/3", Assert.Single((await sink.Ask<QuarantineList>(new ListQuarantine(), TimeSpan.FromSeconds(10))).Items).Id);
    }

    [Fact]
    public async Task AMerge_WaitsForBothPatients_AndNeverOvertakesTheOtherPatientsQuarantine()
    {
        IActorRef sink = StartSink();
        _kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        _target.Break("A1", "B1");
        Send("A1", "P1");             // quarantined: blocks P1
        Send("B1", "P2");             // quarantined: blocks P2
        Send("M1", "P1", prior: "P2"); // a merge of P2 into P1: parked
        Send("B2", "P2");             // parked behind B1
        await SettledStatusAsync(sink, 4);

        _target.Fix();
        Assert.True((await sink.Ask<QuarantineActionResult>(new RetryQuarantined("s/q/1"), TimeSpan.FromSeconds(10))).Ok);
        Assert.Equal(["A1"], _target.Written); // M1 still waits: its other patient is blocked by B1
        Assert.True((await sink.Ask<QuarantineActionResult>(new RetryQuarantined("s/q/2"), TimeSpan.FromSeconds(10))).Ok);
        Assert.Equal(["A1", "B1", "M1", "B2"], _target.Written);
        Assert.Equal(new SinkCounts(4, 0, 0, 0), (await sink.Ask<SinkStatus>(GetSinkStatus.Instance, TimeSpan.FromSeconds(10))).Counts);
    }

    [Fact]
    public async Task AMerge_ReleasingTheOtherPatientFirst_KeepsTheirLaterMessagesBehindTheMerge()
    {
        IActorRef sink = StartSink();
        _kit.ExpectMsg<SinkReady>(TimeSpan.FromSeconds(30));
        _target.Break("A1", "B1");
        Send("A1", "P1");
        Send("B1", "P2");
        Send("M1", "P1", prior: "P2"); // parked behind A1, and holds P2 too
        Send("B2", "P2");             // parked behind B1
        await SettledStatusAsync(sink, 4);

        _target.Fix();
        Assert.True((await sink.Ask<QuarantineActionResult>(new RetryQuarantined("s/q/2"), TimeSpan.FromSeconds(10))).Ok);
        Assert.Equal(["B1"], _target.Written); // B2 must not overtake M1, which is P2's earlier message
        Send("B3", "P2");                      // and neither may a new one
        await SettledStatusAsync(sink, 5);
        Assert.Equal(["B1"], _target.Written);

        Assert.True((await sink.Ask<QuarantineActionResult>(new RetryQuarantined("s/q/1"), TimeSpan.FromSeconds(10))).Ok);
        Assert.Equal(["B1", "A1", "M1", "B2", "B3"], _target.Written);
    }

    // Writes control ids in order; quarantines the ones listed as broken. The actor thread writes, the test reads: locked.
}
