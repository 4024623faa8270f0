using Akka.Actor;
using Akka.Event;
using Akka.Pattern;
using Akka.Streams;
using Akka.Streams.Dsl;
using StreamEngine.Fhir;
using StreamEngine.Hl7v2;
using StreamEngine.Pipeline.Admin;
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
/// and opens the MLLP listener only once the journal has recovered (dedupe keys loaded) and every sink of that stream
/// is subscribed (so a sink that starts "now" misses nothing sent at start-up, and "ready" means ACKs flow). Journals and sinks run under backoff supervisors: a failed store or sink restarts
/// with growing pauses and recovers from the journal.
/// </summary>
public sealed class EngineActor : ReceiveActor, IWithUnboundedStash, IWithTimers
{
    /// <summary>
    /// FHIR sinks wait on their server (a try can last a timeout): each gets a thread of its own, so a slow server
    /// never holds up the file sinks, timers or admin commands on the shared pool.
    /// </summary>
    public const string BlockingSinkDispatcher = "streamengine.blocking-sink-dispatcher";

    private static readonly TimeSpan MinBackoff = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    // A journal restarts sooner: its attempt is one connection to the store, and until it is back every frame of its
    // stream is answered AR. After a store outage the listener serves again within this of the store's return.
    private static readonly TimeSpan JournalMaxBackoff = TimeSpan.FromSeconds(5);

    // The backoff starts again from MinBackoff once a journal or sink has run this long without failing. Akka's default
    // (MinBackoff) reset it on every restart of a sink that fails a second or so after starting (a FHIR server answering
    // 503, an MLLP peer answering AR), so it never grew.
    private static readonly TimeSpan BackoffResetAfter = TimeSpan.FromMinutes(1);

    // How long an admin question waits for a journal or sink: they answer from any state within milliseconds, unless
    // stopping (a failure) just then.
    private static readonly TimeSpan ChildTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a clean stop waits for an onward MLLP receiver's ACK before giving the delivery up (it goes again at the next start).</summary>
    public static readonly TimeSpan HeldDeliveryGrace = TimeSpan.FromSeconds(2);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly EngineSettings _settings;
    private readonly Dictionary<string, int> _waitingSinks = [];
    private readonly Dictionary<string, IActorRef> _journals = [];
    private readonly Dictionary<IActorRef, string> _listeners = []; // each started listener's actor and id
    private readonly List<SinkRef> _sinks = [];
    private readonly Hl7AckBuilder _acks = new(DateTimeOffset.UtcNow);
    private readonly MessageMapper _mapper;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, StreamEngine.Sinks.Fhir.FhirRestClient> _fhirClients = new();
    private readonly IMessageIndex _index;
    private readonly PatientKeyHasher _hasher;

    // Last answers, shown (marked "restarting") while a sink or journal is between a failure and its restart.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<IActorRef, SinkStatus> _lastSinkStatus = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<IActorRef, long> _lastJournaled = new();
    private Akka.Streams.IMaterializer? _materializer;

    private readonly EngineExit? _exit;

    // Cancelled a grace period into a clean stop: a delivery an onward MLLP receiver still holds then (no ACK) is given
    // up, to go again at the next start, instead of holding the sink, and so the stop, for its ACK timeout and retries.
    private readonly CancellationTokenSource _heldDeliveries = new();

    /// <summary>Creates the engine; <paramref name="exit"/> stops the process when a listener cannot bind.</summary>
    public EngineActor(EngineSettings settings, IMessageIndex index, PatientKeyHasher hasher, EngineExit? exit = null)
    {
        _settings = settings;
        _exit = exit;
        _mapper = new MessageMapper(settings.MappingProfile);
        _index = index;
        _hasher = hasher;
        Receive<SinkReady>(OnSinkReady);
        Receive<JournalReady>(ready => OnSinkReady(new SinkReady(string.Empty, ready.ListenerId)));
        Receive<RunRetention>(_ => Retain());
        Admin();
        Receive<GetBindings>(_ =>
        {
            if (_listeners.Count < _settings.Listeners.Count)
            {
                Stash.Stash(); // answered once every listener has been started
                return;
            }

            IActorRef replyTo = Sender;
            Task.WhenAll(_listeners.Keys.Select(l => l.Ask<ListenerBound>(GetListenerBinding.Instance, TimeSpan.FromSeconds(60))))
                .PipeTo(replyTo, success: bound => new Bindings(bound));
        });
    }

    /// <inheritdoc />
    public IStash Stash { get; set; } = null!;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props for the engine; a listener that cannot bind stops the process through <paramref name="exit"/>.</summary>
    public static Props Props(EngineSettings settings, IMessageIndex index, PatientKeyHasher hasher, EngineExit? exit = null) =>
        Akka.Actor.Props.Create(() => new EngineActor(settings, index, hasher, exit));

    /// <summary>
    /// A listener that cannot bind its address, or fails to start at all, stops the engine (the process exits non-zero
    /// naming the listener's key): an engine that runs on without it would look healthy while refusing every sender of
    /// that feed. Anything else is Akka's default, logged in one line (the listeners and the undelivered-appends actor are
    /// the children without a backoff supervisor of their own).
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(e =>
    {
        if (e is ActorInitializationException init && _listeners.TryGetValue(init.Actor ?? ActorRefs.Nobody, out string? listenerId))
        {
            // Any failure to start a listener (a bind, a name that does not resolve, anything unforeseen): nothing else
            // would start it again.
            int index = _settings.Listeners.Select(l => l.Id).ToList().IndexOf(listenerId);
            string reason = init.InnerException is ListenerBindException bind
                ? $"{bind.Message} (listeners[{index}].{bind.Key}); the engine stops"
                : $"Listener {listenerId} could not start ({FailureText.Of(init.InnerException ?? init)}) (listeners[{index}]); the engine stops";
            _log.Error("{0}", reason);
            _exit?.Fail(reason);
            return Directive.Stop;
        }

        Directive directive = Akka.Actor.SupervisorStrategy.DefaultDecider.Decide(e);
        _log.Error("An actor of the engine failed ({0}); {1}", FailureText.Of(e), directive == Directive.Restart ? "it restarts" : "it stops");
        _log.Debug("Engine actor failure: {0}", e);
        return directive;
    }, loggingEnabled: false);

    /// <inheritdoc />
    protected override void PreStart()
    {
        _materializer = Context.Materializer();
        Context.ActorOf(UndeliveredAppends.Props(), "undelivered-appends"); // before any listener: frames meet a journal restart with AR at once
        if (_settings.OptOut is { } optOut)
        {
            optOut.ReloadRefused += OnOptOutRefused;
        }

        Timers.StartPeriodicTimer("retention", RunRetention.Instance, _settings.Retention.Interval);
        foreach (ListenerSettings listener in _settings.Listeners)
        {
            foreach (SinkSettings sink in _settings.Sinks.Where(_ => _journals.Count == 0))
            {
                // Said once, at start-up: what each sink may see.
                if (sink.Policy is { } policy)
                {
                    _log.Info("Sink {0} applies minimisation policy {1} version {2}", sink.Id, policy.Name, policy.Version);
                }
                else
                {
                    _log.Info("Sink {0} has no minimisation policy: it receives the full record", sink.Id);
                }
            }

            IActorRef journal = Context.ActorOf(
                Supervised(IngestJournal.Props(listener.PersistenceId, listener.Id,
                    new IngestOptions(_index, _settings.Dedupe, _settings.ReadJournalPluginId) { ReadyTo = Self }), "journal", $"Ingest journal of listener {listener.Id}", JournalMaxBackoff),
                $"ingest-{Sanitise(listener.Id)}");
            _journals[listener.Id] = journal;
            _waitingSinks[listener.Id] = _settings.Sinks.Count + 1; // the sinks, and the journal itself

            foreach (SinkSettings sink in _settings.Sinks)
            {
                var failures = new FailureStreak();
                Props sinkProps = SinkActor.Props(sink, listener, journal, replayId => CreateTarget(sink, listener, replayId),
                    _settings.ReadJournalPluginId, _settings.Durability, Self, failures: failures);
                // A file sink stays on the shared pool: its mapping runs in lane tasks there anyway, and a dispatcher of its
                // own only added thread hand-offs (its catch-up ran 25% slower on two cores; perf/RESULTS.md).
                if (sink.Type is "fhir" or "mllp" && Context.System.Dispatchers.HasDispatcher(BlockingSinkDispatcher))
                {
                    sinkProps = sinkProps.WithDispatcher(BlockingSinkDispatcher);
                }

                _sinks.Add(new SinkRef(sink.Id, listener.Id, listener.PersistenceId,
                    Context.ActorOf(Supervised(sinkProps, "sink", $"Sink {sink.Id} of listener {listener.Id}", MaxBackoff, failures), $"sink-{Sanitise(sink.Id)}-{Sanitise(listener.Id)}")));
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
        _listeners[Context.ActorOf(MllpListener.Props(listener, _journals[listener.Id], _acks, _hasher), $"listener-{Sanitise(listener.Id)}")] = listener.Id;
        if (_listeners.Count == _settings.Listeners.Count)
        {
            Stash.UnstashAll();
        }
    }

    // The live output, or a replay's own (under replays/{id}/ beside it).
    private IDeliveryTarget CreateTarget(SinkSettings sink, ListenerSettings listener, string? replayId) => sink.Type switch
    {
        "ndjson" => new NdjsonTarget(
            replayId is null
                ? Path.Combine(sink.Path, $"{sink.Id}.{listener.Id}.ndjson")
                : Path.Combine(sink.Path, "replays", replayId, $"{sink.Id}.{listener.Id}.ndjson"),
            listener.PersistenceId,
            _mapper,
            replayId,
            sink.Filter,
            sink.Policy,
            OptOutFor(sink),
            sink.Rotation),
        "fhir" => new FhirTarget(FhirClient(sink), sink.Fhir!, listener.PersistenceId, _mapper, replayId, sink.Filter, sink.Policy, OptOutFor(sink)),
        "mllp" => new MllpTarget(sink.Mllp!, sink.Filter, _heldDeliveries.Token),
        _ => throw new InvalidOperationException($"Unknown sink type '{sink.Type}'."),
    };

    private StreamEngine.Policy.OptOutList? OptOutFor(SinkSettings sink) => SinkClassifier.OptOutFor(sink, _settings);

    // One pooled HTTP client per FHIR sink, shared by its streams and replays.
    private StreamEngine.Sinks.Fhir.FhirRestClient FhirClient(SinkSettings sink) =>
        _fhirClients.GetOrAdd(sink.Id, _ => new StreamEngine.Sinks.Fhir.FhirRestClient(sink.Fhir! with
        {
            MaxConnections = 2 * Math.Max(1, sink.Lanes * _settings.Listeners.Count), // every lane of every stream, and as many for replays
        }));

    // Raised on a delivery thread: the logging adapter is safe to use from any thread.
    private void OnOptOutRefused(string reason) =>
        _log.Warning("The national data opt-out list changed but was refused ({0}); the previous list stays in force until it is fixed", reason);

    /// <inheritdoc />
    protected override void PostStop()
    {
        if (_settings.OptOut is { } optOut)
        {
            optOut.ReloadRefused -= OnOptOutRefused;
        }

        foreach (StreamEngine.Sinks.Fhir.FhirRestClient client in _fhirClients.Values)
        {
            client.Dispose();
        }

        _heldDeliveries.Cancel(); // not disposed: the sinks' targets may still read its token as they stop
        base.PostStop();
    }

    // Deletes, per stream, the journal events every sink has passed that were received before the replay window.
    private void Retain()
    {
        if (_settings.Retention.ReplayWindow is not { } window)
        {
            return;
        }

        TimeSpan timeout = TimeSpan.FromSeconds(30);
        DateTimeOffset cutoff = DateTimeOffset.UtcNow - window;
        var query = Akka.Persistence.Query.PersistenceQuery.Get(Context.System)
            .ReadJournalFor<Akka.Persistence.Query.ICurrentEventsByPersistenceIdQuery>(_settings.ReadJournalPluginId);
        Akka.Streams.IMaterializer materializer = _materializer!;
        foreach (ListenerSettings listener in _settings.Listeners)
        {
            IActorRef journal = _journals[listener.Id];
            List<IActorRef> sinks = [.. _sinks.Where(s => s.ListenerId == listener.Id).Select(s => s.Actor)];
            _ = Task.Run(async () =>
            {
                try
                {
                    ChildAnswer<long> highest = await AskChild<long>(journal, GetHighestSequenceNr.Instance, timeout);
                    bool answered = highest.Answered;
                    long passed = highest.Answer;
                    foreach (IActorRef sink in sinks)
                    {
                        ChildAnswer<SinkStatus> status = await AskChild<SinkStatus>(sink, GetSinkStatus.Instance, timeout);
                        answered &= status.Answered;
                        passed = Math.Min(passed, status.Answer?.Persisted ?? 0);
                    }

                    if (!answered)
                    {
                        return; // a sink or the journal is restarting: the next run retries
                    }

                    Akka.Persistence.Query.EventEnvelope? last = await query.CurrentEventsByPersistenceId(listener.PersistenceId, 0, passed)
                        .TakeWhile(e => e.Event is IIngestEvent ie && ie.ReceivedAt < cutoff)
                        .RunWith(Akka.Streams.Dsl.Sink.LastOrDefault<Akka.Persistence.Query.EventEnvelope>(), materializer);
                    if (last is not null)
                    {
                        journal.Tell(new DeleteUpTo(last.SequenceNr));
                    }
                }
                catch (Exception e) when (e is AskTimeoutException or InvalidOperationException)
                {
                    // A sink or the journal is restarting: the next run retries.
                }
            });
        }
    }

    // The admin endpoint's questions: answered from the journals, the sinks and the message index.
    private void Admin()
    {
        TimeSpan timeout = TimeSpan.FromSeconds(30);
        Receive<RecordProgress>(_ =>
        {
            IActorRef replyTo = Sender;
            _heldDeliveries.CancelAfter(HeldDeliveryGrace); // the engine is stopping
            Task.WhenAll(_sinks.Select(s => AskChild<ProgressRecorded>(s.Actor, RecordProgress.Instance, ChildTimeout)))
                .PipeTo(replyTo, success: _ => ProgressRecorded.Instance, failure: e => new Status.Failure(e));
        });
        Receive<GetStatus>(_ =>
        {
            IActorRef replyTo = Sender;
            var streams = _journals.Select(async j =>
            {
                ListenerSettings listener = _settings.Listeners.First(l => l.Id == j.Key);
                ChildAnswer<IngestCounts> counts = await AskChild<IngestCounts>(j.Value, GetIngestCounts.Instance, ChildTimeout);
                if (counts.Answered)
                {
                    _lastJournaled[j.Value] = counts.Answer!.HighestSequenceNr;
                }

                return new StreamStatus(listener.Id, listener.PersistenceId, _lastJournaled.GetValueOrDefault(j.Value))
                {
                    State = counts.State,
                    ResendsAnswered = counts.Answer?.ResendsAnswered,
                    ControlIdReuses = counts.Answer?.ControlIdReuses,
                };
            }).ToList();
            var sinks = _sinks.Select(async s =>
            {
                ChildAnswer<SinkStatus> status = await AskChild<SinkStatus>(s.Actor, GetSinkStatus.Instance, ChildTimeout);
                if (status.Answered)
                {
                    return _lastSinkStatus[s.Actor] = status.Answer!;
                }

                // Between a failure and its restart, or too busy to answer: what it last said, else no counts at all.
                return (_lastSinkStatus.GetValueOrDefault(s.Actor)
                        ?? new SinkStatus(s.SinkId, s.ListenerId, s.Stream, status.State, 0, 0, SinkCounts.Zero, 0) { CountsKnown = false })
                    with { State = status.State };
            }).ToList();
            Task.Run(async () =>
            {
                StreamStatus[] journaled = await Task.WhenAll(streams);
                SinkStatus[] statuses = await Task.WhenAll(sinks);
                return new EngineStatus(journaled, [.. statuses.Select(s => s with
                {
                    Received = s.CountsKnown ? journaled.First(j => j.ListenerId == s.ListenerId).Journaled - s.Origin : 0,
                })]);
            }).PipeTo(replyTo, failure: e => new Status.Failure(e));
        });
        Receive<ListQuarantine>(list =>
        {
            IActorRef replyTo = Sender;
            var asks = _sinks.Where(s => list.SinkId is null || s.SinkId == list.SinkId)
                .Select(async s => (Sink: s, Answer: await AskChild<QuarantineList>(s.Actor, list, timeout))).ToList();
            Task.WhenAll(asks).PipeTo(replyTo,
                success: lists => new QuarantineList([.. lists.Where(l => l.Answer.Answered).SelectMany(l => l.Answer.Answer!.Items).OrderBy(i => i.At)])
                {
                    Unavailable = [.. lists.Where(l => !l.Answer.Answered).Select(l => $"{l.Sink.SinkId}/{l.Sink.ListenerId} ({l.Answer.State})")],
                },
                failure: e => new Status.Failure(e));
        });
        Receive<QuarantineCommand>(command =>
        {
            string[] parts = command.Id.Split('/');
            SinkRef? sink = parts.Length == 3 && long.TryParse(parts[2], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _)
                ? _sinks.Find(s => s.SinkId == parts[0] && s.ListenerId == parts[1])
                : null;
            if (sink is null)
            {
                Sender.Tell(new QuarantineActionResult(false, $"no quarantine id '{command.Id}' (expected sink/listener/sequence)"));
                return;
            }

            IActorRef replyTo = Sender;
            AskChild<object>(sink.Actor, command, timeout).PipeTo(replyTo,
                success: r => r.Reach switch
                {
                    Reach.Answered => r.Answer!,
                    Reach.Restarting => new QuarantineActionResult(false, $"sink '{sink.SinkId}' of listener '{sink.ListenerId}' is restarting after a failure; try again shortly"),
                    _ => new QuarantineActionResult(false, $"sink '{sink.SinkId}' of listener '{sink.ListenerId}' did not answer within {timeout.TotalSeconds:0} s (recovering, catching up, or releasing many parked messages); the command is queued or still running and completes when the sink is free: see quarantine list"),
                },
                failure: e => new Status.Failure(e));
        });
        Receive<TraceLookup>(lookup =>
        {
            IActorRef replyTo = Sender;
            string? patient = lookup.Mrn is null ? null : _hasher.Hash("mrn:" + lookup.Mrn.Trim());
            Task.Run(async () =>
            {
                IReadOnlyList<MessageIndexEntry> found = await _index.FindAsync(new MessageQuery
                {
                    ControlId = lookup.ControlId,
                    PatientKeyHash = patient,
                    Since = lookup.Since,
                    Limit = lookup.Limit,
                });
                var answers = new List<TraceAnswer>();
                foreach (IGrouping<string, MessageIndexEntry> stream in found.GroupBy(e => e.Stream))
                {
                    List<long> seqs = [.. stream.Select(e => e.SequenceNr)];
                    foreach (SinkRef sink in _sinks.Where(s => s.Stream == stream.Key))
                    {
                        ChildAnswer<TraceAnswer> answer = await AskChild<TraceAnswer>(sink.Actor, new TraceRequest(seqs), timeout);
                        answers.Add(answer.Answer ?? new TraceAnswer(sink.SinkId, sink.ListenerId, seqs.ToDictionary(seq => seq, _ => $"unknown: the sink is {answer.State}")));
                    }
                }

                return new TraceResult([.. found.Select(e => new TracedMessage(e,
                    answers.Where(a => _sinks.Any(s => s.Stream == e.Stream && s.SinkId == a.SinkId && s.ListenerId == a.ListenerId))
                        .ToDictionary(a => a.SinkId, a => a.Outcomes.GetValueOrDefault(e.SequenceNr, "unknown"))))]);
            }).PipeTo(replyTo, failure: e => new Status.Failure(e));
        });
        Receive<ReplayCommand>(command =>
        {
            IActorRef replyTo = Sender;
            var targets = _sinks.Where(s => s.SinkId == command.SinkId && (command.ListenerId is null || s.ListenerId == command.ListenerId)).ToList();
            if (targets.Count == 0)
            {
                replyTo.Tell(new Status.Failure(new ArgumentException($"no sink '{command.SinkId}'" + (command.ListenerId is null ? string.Empty : $" on stream '{command.ListenerId}'"))));
                return;
            }

            Task.WhenAll(targets.Select(async t =>
                {
                    ChildAnswer<ReplayResult> result = await AskChild<ReplayResult>(t.Actor, command.Request, TimeSpan.FromHours(6));
                    return result.Answer ?? new ReplayResult(command.Request.ReplayId, t.SinkId, t.ListenerId, 0, 0, 0, 0, 0, command.Request.DryRun, null)
                    {
                        Error = $"the sink is {result.State}; try again when it runs",
                    };
                }))
                .PipeTo(replyTo, success: results => new ReplayResults(results), failure: e => new Status.Failure(e));
        });
    }

    private sealed record RunRetention
    {
        public static RunRetention Instance { get; } = new();
    }

    private sealed record SinkRef(string SinkId, string ListenerId, string Stream, IActorRef Actor);

    // A failed journal or sink stops and is started again after a backoff. Its failure is logged here in one line
    // (the exception's type and message: never message content), not as Akka's error with the stack traces; a sink
    // counts it in its streak, and says when it works again.
    private Props Supervised(Props child, string name, string what, TimeSpan maxBackoff, FailureStreak? failures = null)
    {
        ILoggingAdapter log = _log;
        string pause = maxBackoff.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var strategy = new OneForOneStrategy(e =>
        {
            log.Warning("{0} failed ({1}); it restarts after a backoff that doubles up to {2} s", what, FailureText.Of(e), pause);
            log.Debug("{0} failure: {1}", what, e);
            failures?.Failed();
            return Directive.Stop;
        }, loggingEnabled: false);
        return BackoffSupervisor.Props(Backoff.OnStop(child, name, MinBackoff, maxBackoff, 0.2, maxNrOfRetries: -1)
            .WithAutoReset(BackoffResetAfter)
            .WithSupervisorStrategy(strategy));
    }

    // Journals and sinks run under backoff supervisors: between a failure and the restart there is no child, and a
    // question sent to the supervisor then goes to dead letters (the asker would wait out its timeout). The supervisor
    // is asked for its current child first, and the child is watched while it is asked: a child that stops before
    // answering (a failure; its stash is dropped) is told apart from one that is merely busy.
    private static async Task<ChildAnswer<T>> AskChild<T>(IActorRef supervisor, object question, TimeSpan timeout)
    {
        try
        {
            BackoffSupervisor.CurrentChild current = await supervisor.Ask<BackoffSupervisor.CurrentChild>(BackoffSupervisor.GetCurrentChild.Instance, ChildTimeout);
            if (current.Ref is not { } child || child.IsNobody())
            {
                return new ChildAnswer<T>(Reach.Restarting, default);
            }

            using var watching = new CancellationTokenSource();
            try
            {
                Task<bool> stopped = child.WatchAsync(watching.Token);
                Task<T> ask = child.Ask<T>(question, timeout);
                Task first = await Task.WhenAny(ask, stopped).ConfigureAwait(false);
                if (first == stopped && await stopped.ConfigureAwait(false) && !ask.IsCompletedSuccessfully)
                {
                    return new ChildAnswer<T>(Reach.Restarting, default);
                }

                return new ChildAnswer<T>(Reach.Answered, await ask.ConfigureAwait(false));
            }
            finally
            {
                watching.Cancel(); // unwatches
            }
        }
        catch (AskTimeoutException)
        {
            return new ChildAnswer<T>(Reach.Busy, default);
        }
    }

    private enum Reach
    {
        Answered,
        Restarting,
        Busy,
    }

    private readonly record struct ChildAnswer<T>(Reach Reach, T? Answer)
    {
        public bool Answered => Reach == Reach.Answered;

        /// <summary>The state an operator is shown: running when it answered.</summary>
        public string State => Reach switch
        {
            Reach.Answered => "running",
            Reach.Restarting => "restarting",
            _ => "not answering",
        };
    }

    private static string Sanitise(string id) => Uri.EscapeDataString(id);
}
