using Akka.Actor;
using Akka.Event;
using Akka.Pattern;
using StreamEngine.Fhir;
using StreamEngine.Hl7v2;
using StreamEngine.Pipeline.Delivery;
using StreamEngine.Pipeline.Index;
using StreamEngine.Pipeline.Ingest;
using StreamEngine.Pipeline.Listening;

namespace StreamEngine.Pipeline;

/// <summary>Asks the engine where its listeners are bound; answered once every listener is accepting.</summary>
public sealed record GetBindings
{
    /// <summary>The message.</summary>
    public static GetBindings Instance { get; } = new();
}

/// <summary>Every listener's binding.</summary>
public sealed record Bindings(IReadOnlyList<ListenerBound> Listeners);

/// <summary>
/// The engine's root actor. Per listener it starts the ingest journal, then one <see cref="SinkActor"/> per sink,
/// and opens the MLLP listener only once every sink of that stream is subscribed (so a sink that starts "now" misses
/// nothing sent at start-up). Journals and sinks run under backoff supervisors: a failed store or sink restarts
/// with growing pauses and recovers from the journal.
/// </summary>
public sealed class EngineActor : ReceiveActor, IWithUnboundedStash
{
    private static readonly TimeSpan MinBackoff = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly EngineSettings _settings;
    private readonly Dictionary<string, int> _waitingSinks = [];
    private readonly Dictionary<string, IActorRef> _journals = [];
    private readonly List<IActorRef> _listeners = [];
    private readonly Hl7AckBuilder _acks = new(DateTimeOffset.UtcNow);
    private readonly MessageMapper _mapper = new();
    private readonly IMessageIndex _index;
    private readonly PatientKeyHasher _hasher;

    /// <summary>Creates the engine.</summary>
    public EngineActor(EngineSettings settings, IMessageIndex index, PatientKeyHasher hasher)
    {
        _settings = settings;
        _index = index;
        _hasher = hasher;
        Receive<SinkReady>(OnSinkReady);
        Receive<GetBindings>(_ =>
        {
            if (_listeners.Count < _settings.Listeners.Count)
            {
                Stash.Stash(); // answered once every listener has been started
                return;
            }

            IActorRef replyTo = Sender;
            Task.WhenAll(_listeners.Select(l => l.Ask<ListenerBound>(GetListenerBinding.Instance, TimeSpan.FromSeconds(60))))
                .PipeTo(replyTo, success: bound => new Bindings(bound));
        });
    }

    /// <inheritdoc />
    public IStash Stash { get; set; } = null!;

    /// <summary>Props for the engine.</summary>
    public static Props Props(EngineSettings settings, IMessageIndex index, PatientKeyHasher hasher) =>
        Akka.Actor.Props.Create(() => new EngineActor(settings, index, hasher));

    /// <inheritdoc />
    protected override void PreStart()
    {
        foreach (ListenerSettings listener in _settings.Listeners)
        {
            IActorRef journal = Context.ActorOf(
                Supervised(IngestJournal.Props(listener.PersistenceId, listener.Id,
                    new IngestOptions(_index, _settings.Dedupe, _settings.ReadJournalPluginId)), "journal"),
                $"ingest-{Sanitise(listener.Id)}");
            _journals[listener.Id] = journal;
            _waitingSinks[listener.Id] = _settings.Sinks.Count;

            foreach (SinkSettings sink in _settings.Sinks)
            {
                Props sinkProps = SinkActor.Props(sink, listener, journal, () => CreateTarget(sink, listener),
                    _settings.ReadJournalPluginId, _settings.Durability, Self);
                Context.ActorOf(Supervised(sinkProps, "sink"), $"sink-{Sanitise(sink.Id)}-{Sanitise(listener.Id)}");
            }

            if (_settings.Sinks.Count == 0)
            {
                StartListener(listener);
            }
        }
    }

    private void OnSinkReady(SinkReady ready)
    {
        if (!_waitingSinks.TryGetValue(ready.ListenerId, out int waiting) || waiting == 0)
        {
            return;
        }

        _waitingSinks[ready.ListenerId] = --waiting;
        if (waiting == 0)
        {
            StartListener(_settings.Listeners.First(l => l.Id == ready.ListenerId));
        }
    }

    private void StartListener(ListenerSettings listener)
    {
        _log.Info("Starting listener {0} on {1}:{2}", listener.Id, listener.Host, listener.Port);
        _listeners.Add(Context.ActorOf(MllpListener.Props(listener, _journals[listener.Id], _acks, _hasher), $"listener-{Sanitise(listener.Id)}"));
        if (_listeners.Count == _settings.Listeners.Count)
        {
            Stash.UnstashAll();
        }
    }

    private IDeliveryTarget CreateTarget(SinkSettings sink, ListenerSettings listener) => sink.Type switch
    {
        "ndjson" => new NdjsonTarget(
            Path.Combine(sink.Path, $"{sink.Id}.{listener.Id}.ndjson"),
            listener.PersistenceId,
            Path.Combine(_settings.DataDirectory, "quarantine", sink.Id, listener.Id),
            _mapper),
        _ => throw new InvalidOperationException($"Unknown sink type '{sink.Type}'."),
    };

    private static Props Supervised(Props child, string name) =>
        BackoffSupervisor.Props(Backoff.OnStop(child, name, MinBackoff, MaxBackoff, 0.2, maxNrOfRetries: -1).WithDefaultStoppingStrategy());

    private static string Sanitise(string id) => Uri.EscapeDataString(id);
}
