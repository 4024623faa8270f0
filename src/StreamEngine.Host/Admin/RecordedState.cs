using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Persistence;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StreamEngine.Pipeline;
using StreamEngine.Pipeline.Admin;
using StreamEngine.Pipeline.Delivery;

namespace StreamEngine.Host.Admin;

/// <summary>
/// What a stopped engine recorded, read from its store for <c>status</c>, <c>quarantine list|show</c> and the sinks'
/// part of <c>trace</c>: each stream's
/// highest journaled sequence, and each sink's state as its own recovery rebuilds it (read-only sink actors: they
/// recover and answer, and never deliver or write). The answers have the running engine's shape; every sink's state
/// is <c>recorded</c>, and its counts are those of its last recorded watermark (lines a sink wrote past it are counted
/// when it next starts).
/// </summary>
internal sealed class RecordedState : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2); // recovery of a large quarantine from the store

    private readonly IHost _host;
    private readonly ActorSystem _system;
    private readonly EngineSettings _settings;
    private StreamEngine.Fhir.MessageMapper? _mapper;

    private RecordedState(IHost host, EngineSettings settings, EngineStore store)
    {
        _host = host;
        _settings = settings;
        _system = host.Services.GetRequiredService<ActorSystem>();
        Index = store.Index;
    }

    /// <summary>The message index, read-only.</summary>
    public Pipeline.Index.IMessageIndex Index { get; }

    /// <summary>
    /// Opens the store of <paramref name="settings"/> to read only; null when it holds no journal yet (which reading
    /// never creates).
    /// </summary>
    public static async Task<RecordedState?> OpenAsync(EngineSettings settings, CancellationToken cancellationToken)
    {
        if (EngineHost.OpenStoreReadOnly(settings) is not { } store)
        {
            return null;
        }

        HostApplicationBuilder builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.ClearProviders(); // stdout carries the answer (--json); a store that fails is told by the exception
        builder.Services.AddAkka("streamengine-recorded", (akka, _) =>
        {
            akka.ConfigureLoggers(loggers =>
            {
                loggers.LogLevel = Akka.Event.LogLevel.ErrorLevel;
                loggers.ClearLoggers();
                loggers.AddLoggerFactory();
            });
            akka.AddHocon(ConfigurationFactory.ParseString("akka.stdout-loglevel = OFF\nakka.log-dead-letters = off"), HoconAddMode.Prepend);
            EngineHost.ConfigurePersistence(akka, store);
        });
        IHost host = builder.Build();
        await host.StartAsync(cancellationToken);
        return new RecordedState(host, settings, store);
    }

    /// <summary>The engine's status as recorded: streams and sinks, every one <c>recorded</c>.</summary>
    public async Task<EngineStatus> StatusAsync()
    {
        // The sinks first: an engine running meanwhile (with no admin endpoint) only adds to the journal, so what the
        // sinks recorded never counts more than the journal read after it holds.
        var sinks = new List<SinkStatus>();
        foreach ((ListenerSettings listener, SinkSettings sink) in Sinks(null))
        {
            sinks.Add(await AskSinkAsync<SinkStatus>(listener, sink, GetSinkStatus.Instance));
        }

        var streams = new List<StreamStatus>();
        foreach (ListenerSettings listener in _settings.Listeners)
        {
            long journaled = await AskAsync<long>(Props.Create(() => new HighestSequenceNr(listener.PersistenceId)), HighestSequenceNr.Ask, $"the journal of stream {listener.PersistenceId}");
            streams.Add(new StreamStatus(listener.Id, listener.PersistenceId, journaled) { State = "recorded" });
        }

        return new EngineStatus(streams, [.. sinks.Select(s => s with { Received = streams.First(j => j.ListenerId == s.ListenerId).Journaled - s.Origin })]);
    }

    /// <summary>The open quarantine as recorded, oldest first (of one sink, or all).</summary>
    public async Task<QuarantineList> QuarantineAsync(string? sinkId)
    {
        var items = new List<QuarantineItem>();
        foreach ((ListenerSettings listener, SinkSettings sink) in Sinks(sinkId))
        {
            items.AddRange((await AskSinkAsync<QuarantineList>(listener, sink, new ListQuarantine(sinkId))).Items);
        }

        return new QuarantineList([.. items.OrderBy(i => i.At)]);
    }

    /// <summary>One quarantined message (<see cref="QuarantineDetail"/>), or why not (<see cref="QuarantineActionResult"/>).</summary>
    public async Task<object> ShowAsync(ShowQuarantined show)
    {
        string[] parts = show.Id.Split('/');
        if (Sinks(parts[0]).FirstOrDefault(p => p.Listener.Id == parts[1]) is not ({ } listener, { } sink))
        {
            return new QuarantineActionResult(false, $"no quarantine id '{show.Id}' (no sink '{parts[0]}' on a listener '{parts[1]}' in this configuration)");
        }

        return await AskSinkAsync<object>(listener, sink, show);
    }

    /// <summary>
    /// The streams whose newest messages the message index does not hold yet: the index is written just after each
    /// commit, so a kill -9 can leave it up to a moment behind the journal (the engine indexes the rest when it starts).
    /// </summary>
    public async Task<IReadOnlyList<(string Stream, long IndexedTo, long JournaledTo)>> UnindexedAsync()
    {
        var behind = new List<(string, long, long)>();
        foreach (ListenerSettings listener in _settings.Listeners)
        {
            long indexed = await Index.LoadAsync(listener.PersistenceId, DateTimeOffset.MaxValue, keys: null);
            long journaled = await AskAsync<long>(Props.Create(() => new HighestSequenceNr(listener.PersistenceId)), HighestSequenceNr.Ask, $"the journal of stream {listener.PersistenceId}");
            if (journaled > indexed)
            {
                behind.Add((listener.PersistenceId, indexed, journaled));
            }
        }

        return behind;
    }

    /// <summary>Each message's outcome at every sink of its stream, as recorded.</summary>
    public async Task<TraceResult> TraceAsync(IReadOnlyList<Pipeline.Index.MessageIndexEntry> found)
    {
        var outcomes = new Dictionary<(string Stream, string Sink), IReadOnlyDictionary<long, string>>();
        foreach (IGrouping<string, Pipeline.Index.MessageIndexEntry> stream in found.GroupBy(e => e.Stream))
        {
            List<long> seqs = [.. stream.Select(e => e.SequenceNr)];
            foreach ((ListenerSettings listener, SinkSettings sink) in Sinks(null).Where(p => p.Listener.PersistenceId == stream.Key))
            {
                // Settled messages are read from the journal and told delivered or filtered as the sink's settings say; at
                // a secondary-use sink only with the opt-out list (else "delivered or filtered": its withheld are unknown).
                using SinkClassifier? classifier = sink.Purpose == SinkPurpose.SecondaryUse && _settings.OptOut is null ? null
                    : new SinkClassifier(sink, _settings, _mapper ??= new StreamEngine.Fhir.MessageMapper(_settings.MappingProfile));
                outcomes[(stream.Key, sink.Id)] = (await AskSinkAsync<TraceAnswer>(listener, sink, new TraceRequest(seqs), classifier)).Outcomes;
            }
        }

        return new TraceResult([.. found.Select(e => new TracedMessage(e, outcomes.Where(o => o.Key.Stream == e.Stream)
            .ToDictionary(o => o.Key.Sink, o => o.Value.GetValueOrDefault(e.SequenceNr, "unknown"))))]);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }

    private IEnumerable<(ListenerSettings Listener, SinkSettings Sink)> Sinks(string? sinkId) =>
        from listener in _settings.Listeners
        from sink in _settings.Sinks
        where sinkId is null || sink.Id == sinkId
        select (listener, sink);

    // A read-only sink actor per question: it recovers, answers and is stopped. With a classifier it reads the settled
    // messages a trace asks about from the journal, to tell delivered from filtered.
    private Task<T> AskSinkAsync<T>(ListenerSettings listener, SinkSettings sink, object question, SinkClassifier? classifier = null) =>
        AskAsync<T>(SinkActor.ReadOnlyProps(sink, listener, _settings.ReadJournalPluginId, classifier), question, $"sink {sink.Id} of stream {listener.PersistenceId}");

    // Asks a reader that recovers first; one that cannot recover (the store unreachable, a row it cannot read) stops,
    // and that is told at once rather than after the timeout.
    private async Task<T> AskAsync<T>(Props props, object question, string what)
    {
        IActorRef reader = _system.ActorOf(props);
        using Inbox inbox = Inbox.Create(_system);
        inbox.Watch(reader);
        inbox.Send(reader, question);
        try
        {
            object answer = await inbox.ReceiveAsync(Timeout);
            return answer is T typed ? typed : throw new IOException($"could not read {what} from the store (see the engine's log when it next starts)");
        }
        finally
        {
            _system.Stop(reader);
        }
    }

    // The highest sequence number a stream's journal holds: a persistent actor of that id that replays nothing.
    private sealed class HighestSequenceNr(string persistenceId) : UntypedPersistentActor
    {
        public static readonly object Ask = new();

        public override string PersistenceId => persistenceId;

        public override Recovery Recovery => new(SnapshotSelectionCriteria.None, toSequenceNr: 0);

        protected override void OnRecover(object message)
        {
        }

        protected override void OnCommand(object message)
        {
            Sender.Tell(LastSequenceNr);
            Context.Stop(Self);
        }
    }
}
