using Akka.Actor;
using StreamEngine.Pipeline;
using StreamEngine.Pipeline.Admin;
using StreamEngine.Pipeline.Delivery;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// One stream's ingest journal on the real SQLite store, and sink actors on it writing to a <see cref="GatedTarget"/>:
/// the harness of the quarantine and lane tests.
/// </summary>
public abstract class SinkActorHarness(string listenerId) : IAsyncLifetime
{
    private readonly PersistenceHost _persistence = new();
    private IActorRef _journal = ActorRefs.Nobody;
    private int _correlation;

    protected ListenerSettings Listener { get; } = new() { Id = listenerId, Name = listenerId };

    protected SinkSettings Sink { get; } = new() { Id = "s", Name = "s", StartFrom = StartFrom.Earliest };

    protected Akka.TestKit.Xunit2.TestKit Kit { get; private set; } = null!;

    /// <summary>The data directory of the store.</summary>
    protected string Directory => _persistence.Directory;

    public async Task InitializeAsync()
    {
        Kit = await _persistence.StartAsync("sqlite");
        _journal = Kit.Sys.ActorOf(IngestJournal.Props(Listener.PersistenceId, Listener.Id,
            new IngestOptions(_persistence.Store!.Index, new DedupeSettings(), _persistence.Settings!.ReadJournalPluginId)));
    }

    public async Task DisposeAsync() => await _persistence.DisposeAsync();

    protected IActorRef StartSink(IDeliveryTarget target, SinkSettings? settings = null, int snapshotEvery = 1000, TimeSpan? flushDelay = null,
        FailureStreak? failures = null) =>
        Kit.Sys.ActorOf(SinkActor.Props(settings ?? Sink, Listener, _journal, _ => target, _persistence.Settings!.ReadJournalPluginId, Durability.Fsync,
            Kit.TestActor, snapshotEvery, flushDelay, failures));

    /// <summary>The sink's status now.</summary>
    protected static Task<SinkStatus> StatusOf(IActorRef sink) => sink.Ask<SinkStatus>(GetSinkStatus.Instance, TimeSpan.FromSeconds(10));

    /// <summary>The sink's open quarantine.</summary>
    protected static async Task<IReadOnlyList<QuarantineItem>> QuarantineOf(IActorRef sink) =>
        (await sink.Ask<QuarantineList>(new ListQuarantine(), TimeSpan.FromSeconds(10))).Items;

    /// <summary>Retries a quarantined message (an operator's <c>quarantine retry</c>).</summary>
    protected static Task<QuarantineActionResult> RetryAsync(IActorRef sink, string id) =>
        sink.Ask<QuarantineActionResult>(new RetryQuarantined(id), TimeSpan.FromSeconds(10));

    /// <summary>Waits (up to 30 s) until the sink's status passes <paramref name="assert"/>.</summary>
    protected Task AwaitStatusAsync(IActorRef sink, Action<SinkStatus> assert) =>
        Kit.AwaitAssertAsync(async () => assert(await StatusOf(sink)), TimeSpan.FromSeconds(30));

    /// <summary>Journals M1..Mn, one message for each of n patients P1..Pn.</summary>
    protected void SendOnePerPatient(int count)
    {
        for (int n = 1; n <= count; n++)
        {
            Send($"M{n}", $"P{n}");
        }
    }

    /// <summary>
    /// Journals an ADT^A08 for a patient (and, for a merge, the patient it retires) and waits for the commit; an empty
    /// patient journals a message without a patient key.
    /// </summary>
    protected void Send(string controlId, string patient, string prior = "")
    {
        byte[] raw = System.Text.Encoding.ASCII.GetBytes($"MSH|^~\\&|PAS|RX1|||2026||ADT^A08|{controlId}|P|2.4\rPID|1||{patient}^^^R^MR\r");
        _journal.Tell(new Append(++_correlation, new MessageReceived(raw, DateTimeOffset.UtcNow, "PAS", "RX1", "ADT^A08", controlId, "2026",
            MessageFingerprint.ContentHash(raw), patient.Length == 0 ? "" : "hash-" + patient, prior.Length == 0 ? "" : "hash-" + prior)), Kit.TestActor);
        Kit.FishForMessage(m => m is Journaled, TimeSpan.FromSeconds(30)); // past any SinkReady of a restarted sink
    }
}
