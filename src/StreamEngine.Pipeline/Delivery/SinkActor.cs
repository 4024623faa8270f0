using Akka;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using StreamEngine.Diagnostics;
using StreamEngine.Pipeline.Admin;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.Pipeline.Delivery;

/// <summary>Sent to the engine once a sink is subscribed to its stream and knows where to start.</summary>
public sealed record SinkReady(string SinkId, string ListenerId);

/// <summary>
/// Asks the engine (every sink) to record its progress now, as the engine stops: a clean stop leaves each sink's
/// counts exact in the store, for the commands that read it with the engine stopped. A sink asked starts no more work
/// (the engine is stopping) and records once the lanes under way are done, so that every line in its output is
/// counted by the record. Answered with <see cref="ProgressRecorded"/>.
/// </summary>
public sealed record RecordProgress
{
    /// <summary>The message.</summary>
    public static RecordProgress Instance { get; } = new();
}

/// <summary>The answer to <see cref="RecordProgress"/>.</summary>
public sealed record ProgressRecorded
{
    /// <summary>The message.</summary>
    public static ProgressRecorded Instance { get; } = new();
}

/// <summary>
/// Delivers one stream to one sink, in journal order, effectively once.
/// <para>Progress: a watermark (every sequence number up to it is delivered, filtered, quarantined or parked) with
/// running counts, persisted in batches; the target reports what it already holds, so a crash between a write and the
/// watermark re-sends nothing twice. It reads the journal on its own: live events offered by the
/// <see cref="IngestJournal"/> while it keeps up, and a catch-up query (Akka.Persistence.Query) from its watermark
/// after a (re)start or whenever it sees a gap, so a slow or failed sink never holds up ingest.</para>
/// <para>Quarantine: a message retrying cannot deliver is persisted here with its reason and its own copy of the
/// message, and blocks its patient keys at this sink: later messages of those patients are parked (persisted, with
/// their copies) behind it, so one patient's order is never broken while every other patient flows on. An
/// operator's retry or skip releases the parked messages in order, and is recorded.</para>
/// <para>Replay: re-delivers, to a file of the replay's own, every message from a start point on of each patient
/// with a matching message, rate-capped; live delivery waits meanwhile and catches up after.</para>
/// </summary>
public sealed class SinkActor : ReceivePersistentActor, IWithTimers
{
    /// <summary>
    /// Live events a sink may have outstanding before the journal stops offering (then it catches up from the
    /// journal). Small, because each holds its raw message: 256 large messages are a few tens of MiB at most.
    /// </summary>
    internal const int LiveWindow = 256;

    /// <summary>Messages done above the low mark at most before the sink stops reading on (one lane stuck holds the mark).</summary>
    private const int MaxSettledAbove = 100_000;

    /// <summary>Messages a catch-up or a replay may have in the lanes before it reads on.</summary>
    private const int CatchUpInFlight = 512;

    private const int WatermarkEvery = 1000;

    /// <summary>
    /// Parked messages a file sink releases in one turn, recorded together: a release of tens of thousands answers
    /// status, and stops, between its steps instead of holding the actor for the whole of it.
    /// </summary>
    internal const int FileReleaseStep = 1000;
    private static readonly TimeSpan WatermarkInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RecordProgressWait = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan DefaultFlushDelay = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan ResubscribeInterval = TimeSpan.FromSeconds(2);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly CodedLog _mappingWarnings = new();
    private readonly SinkSettings _sink;
    private readonly ListenerSettings _listener;
    private readonly IActorRef _journal;
    private readonly Func<string?, IDeliveryTarget> _targetFactory;
    private readonly string _readJournalPluginId;
    private readonly bool _durable;
    private readonly IActorRef? _readyTo;
    private readonly KeyValuePair<string, object?> _sinkTag;
    private readonly IMaterializer _materializer;
    private readonly int _snapshotEvery;
    private readonly SortedDictionary<long, Quarantined> _quarantine = [];
    private readonly Dictionary<string, Quarantined> _blocked = [];
    private readonly Dictionary<long, Quarantined> _parkedBehind = [];
    private readonly LaneScheduler<IIngestEvent> _lanes;
    private readonly SortedSet<long> _settledAbove = [];
    private readonly HashSet<long> _liveInLanes = [];
    // This incarnation's: cancels its deliveries in flight when it stops, and tags their results (those of an earlier
    // incarnation, before a restart, are ignored).
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<Task> _running = [];

    // Set by RecordProgress (the engine is stopping): no lane starts any more. The askers wait for the lanes under way.
    private bool _quiet;
    private List<IActorRef>? _progressTo;
    private CoordinatedShutdown? _shutdown; // EngineStopping
    private IActorRef? _catchUpAckTo;
    private IDeliveryTarget? _target;
    private long _done;
    private long _next;
    private long _heldFrom = -1; // the journal's first event when this catch-up began (-1: not known yet; below it, retention deleted)
    private IActorRef? _catchUpStartedBy; // the catch-up's read, waiting for _heldFrom before its first batch
    private int _catchUps; // numbers each catch-up, so that a late FirstHeld of an earlier one is told apart
    private long _settledSincePersist;
    private long _durableSettledAbove;
    private long _origin;
    private static readonly IReadOnlySet<long> NothingHeld = new HashSet<long>();
    private IReadOnlySet<long> _held = NothingHeld;
    private long _outputPosition;
    private readonly Dictionary<long, QuarantineResolved> _resolved = [];
    private long _delivered;
    private long _filtered;
    private long _quarantined;
    private long _parked;
    private bool _recoveredWatermark;
    private bool _announced;
    private readonly TimeSpan _flushDelay; // how long lines wait before they go to the OS (tests make it long)
    private bool _flushScheduled;
    private int _ungranted;
    private long _doneAtLastTick;
    private string _state = "starting";
    private int _pendingWrites;
    private long _durableWatermark;
    private bool _unflushed; // lines not yet handed to the OS
    private bool _unsynced;  // lines not yet on disk (fsync mode)
    private bool _snapshotting;
    private long _snapshotSeq;
    private readonly bool _readOnly;
    private readonly SinkClassifier? _classifier; // read-only: tells a settled message delivered or filtered in a trace
    private readonly FailureStreak? _failures; // counted by the supervisor; ended here once the watermark moves again

    /// <summary>Creates the sink actor of one sink and one listener's stream.</summary>
    /// <param name="targetFactory">Opens the sink's output: the live one for null, else a replay's own (by replay id).</param>
    /// <param name="snapshotEvery">Journal events between snapshots of the sink's state.</param>
    /// <param name="flushDelay">How long written lines wait before they go to the OS (default 20 ms).</param>
    /// <param name="readOnly">Only recovers its state from the store and answers status and quarantine questions from
    /// it: never delivers, subscribes or writes (the commands' offline answers, with the engine stopped).</param>
    /// <param name="classifier">Read-only: tells a traced settled message delivered or filtered.</param>
    public SinkActor(SinkSettings sink, ListenerSettings listener, IActorRef journal, Func<string?, IDeliveryTarget> targetFactory,
        string readJournalPluginId, Durability durability, IActorRef? readyTo, int snapshotEvery = 1000, TimeSpan? flushDelay = null,
        bool readOnly = false, SinkClassifier? classifier = null, FailureStreak? failures = null)
    {
        _readOnly = readOnly;
        _failures = failures;
        _classifier = classifier;
        _flushDelay = flushDelay ?? DefaultFlushDelay;
        _snapshotEvery = snapshotEvery;
        _sink = sink;
        _listener = listener;
        _journal = journal;
        _targetFactory = targetFactory;
        _readJournalPluginId = readJournalPluginId;
        _durable = durability == Durability.Fsync;
        _readyTo = readyTo;
        _sinkTag = new("sink", sink.Id);
        _materializer = Context.Materializer();
        _lanes = new LaneScheduler<IIngestEvent>(Math.Max(1, sink.Lanes));
        PersistenceId = sink.PersistenceIdFor(listener);

        Recover<WatermarkAdvanced>(w =>
        {
            _recoveredWatermark = true;
            _done = _durableWatermark = Math.Max(_done, w.SequenceNr);
            RestoreSettledAbove(w);
            _outputPosition = w.OutputPosition;
            if (w.Counts is { } counts)
            {
                _origin = w.Origin;
                (_delivered, _filtered, _quarantined, _parked) = (counts.Delivered, counts.Filtered, counts.Quarantined, counts.Parked);
            }
        });
        Recover<MessageQuarantined>(q => OpenQuarantine(q));
        Recover<MessageParked>(p => ParkBehind(p));
        Recover<QuarantineResolved>(r =>
        {
            CloseQuarantine(r.SequenceNr);
            _resolved[r.SequenceNr] = r;
        });
        Recover<QuarantineReleasing>(MarkReleasing);
        Recover<ParkedReleased>(p => RemoveParked(p.SequenceNr));
        Recover<ReplayStarted>(r => _replayJournaled = r);
        Recover<ReplayEnded>(e => _replayJournaled = _replayJournaled?.ReplayId == e.ReplayId ? null : _replayJournaled);
        Recover<SnapshotOffer>(offer =>
        {
            _snapshotSeq = offer.Metadata.SequenceNr;
            var snapshot = (SinkSnapshot)offer.Snapshot;
            _replayJournaled = snapshot.Replaying;
            _recoveredWatermark = true;
            _done = _durableWatermark = snapshot.Watermark.SequenceNr;
            RestoreSettledAbove(snapshot.Watermark);
            _origin = snapshot.Watermark.Origin;
            _outputPosition = snapshot.Watermark.OutputPosition;
            foreach (QuarantineResolved resolved in snapshot.Resolved)
            {
                _resolved[resolved.SequenceNr] = resolved;
            }

            SinkCounts counts = snapshot.Watermark.Counts ?? SinkCounts.Zero;
            (_delivered, _filtered, _quarantined, _parked) = (counts.Delivered, counts.Filtered, counts.Quarantined, counts.Parked);
            foreach (MessageQuarantined q in snapshot.Quarantined)
            {
                OpenQuarantine(q);
            }

            foreach (MessageParked p in snapshot.Parked)
            {
                ParkBehind(p);
            }

            foreach (QuarantineReleasing r in snapshot.Releasing)
            {
                MarkReleasing(r);
            }
        });
        Recover<RecoveryCompleted>(_ => OnRecovered());
        CommandAny(_ => Stash.Stash());
    }

    /// <inheritdoc />
    public override string PersistenceId { get; }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    private string StreamId => _listener.PersistenceId;

    /// <summary>Props for a sink actor.</summary>
    /// <param name="failures">The failures its supervisor counted since the sink last worked: the first watermark that
    /// moves after them ends the streak with one line in the log.</param>
    public static Props Props(SinkSettings sink, ListenerSettings listener, IActorRef journal, Func<string?, IDeliveryTarget> targetFactory,
        string readJournalPluginId, Durability durability, IActorRef? readyTo, int snapshotEvery = 1000, TimeSpan? flushDelay = null,
        FailureStreak? failures = null) =>
        Akka.Actor.Props.Create(() => new SinkActor(sink, listener, journal, targetFactory, readJournalPluginId, durability, readyTo, snapshotEvery, flushDelay, false, null, failures));

    /// <summary>
    /// Props for a sink actor that only reads its recorded state and answers <see cref="GetSinkStatus"/>,
    /// <see cref="ListQuarantine"/>, <see cref="ShowQuarantined"/> and <see cref="TraceRequest"/> from it (state
    /// <c>recorded</c>; a settled message is told delivered or filtered by <paramref name="classifier"/>, reading it from
    /// the journal through <paramref name="readJournalPluginId"/>, or "delivered or filtered" without one); a retry or
    /// skip is refused. It never writes, so it may read the store while no engine runs.
    /// </summary>
    public static Props ReadOnlyProps(SinkSettings sink, ListenerSettings listener, string readJournalPluginId = "", SinkClassifier? classifier = null) =>
        Akka.Actor.Props.Create(() => new SinkActor(sink, listener, ActorRefs.Nobody, NoOutput, readJournalPluginId, Durability.Os, null, 1000, null, true, classifier));

    private static IDeliveryTarget NoOutput(string? replay) => throw new InvalidOperationException("A read-only sink actor opens no output.");

    /// <inheritdoc />
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        // The store failed: the sink stops after this and restarts after a backoff, resuming from its last watermark.
        // One line, no stack trace. Akka stops it itself, so its supervisor's strategy never counts this failure.
        _failures?.Failed();
        _log.Warning("Sink {0} on stream {1} could not write its progress ({2}); it resumes from its last recorded watermark", _sink.Id,
            StreamId, FailureText.Of(cause));
    }

    /// <inheritdoc />
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        // The store refused one write (it could not be serialized): its callback never runs, so lanes waiting for a
        // watermark or a release waiting for its step would wait for good. Restart from the last recorded state instead.
        _log.Warning("Sink {0} on stream {1}: the store rejected its {2} ({3}); it restarts from its last recorded state", _sink.Id, StreamId,
            @event.GetType().Name, FailureText.Of(cause));
        throw new InvalidOperationException($"Sink '{_sink.Id}' could not record its {@event.GetType().Name}.", cause);
    }

    /// <inheritdoc />
    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _failures?.Failed(); // stopped by Akka, as above
        _log.Warning("Sink {0} on stream {1} could not recover from the store ({2}); it is restarted after a backoff", _sink.Id, StreamId,
            FailureText.Of(reason));
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        // Deliveries still in flight (a FHIR request retrying through an outage) are cancelled and awaited, briefly, so
        // none lands after the next incarnation has sent the same patient's later messages.
        _stopping.Cancel();
        try
        {
            Task.WaitAll([.. _running], TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // Cancelled or failed: either way no longer running.
        }

        _stopping.Dispose();
        LogMappingWarningSummary(force: true);
        ReplayRun? stoppedReplay = _replay;
        if (_replay is { } replay)
        {
            // A replay cut short by the stop: what it wrote is kept, flushed; its file is closed.
            try
            {
                replay.Target.Flush(_durable);
            }
            catch (Exception e) when (IsOutputFailure(e))
            {
                // The replay's output is abandoned as it stands.
            }

            DisposeQuietly(replay.Target);
            _replay = null;
        }

        bool engineStopping = EngineStopping;
        _releases?.Stopped(_sink.Id, _listener.Id, engineStopping);
        if (_replayAsker is ({ } request, { } asker))
        {
            string stopped = engineStopping ? "the engine stopped" : "the sink stopped after a failure";
            asker.Tell(ResultOf(request, ReferenceEquals(stoppedReplay?.Request, request) ? stoppedReplay : null, _replayJournaled is null
                ? $"{stopped} before the replay began delivering; run the replay again"
                : $"{stopped} before the replay ended; it runs the replay again from its start "
                    + (engineStopping ? "when the engine next starts" : "once it has restarted (after a backoff)")));
        }

        try
        {
            _target?.Flush(durable: true);
        }
        catch (Exception e) when (IsOutputFailure(e))
        {
            // The output is abandoned as it stands; a restart checks what reached it past the last watermark. (An
            // exception out of PostStop would be logged by Akka as an error with its stack trace, on top of the
            // supervisor's one warning line for the failure that stopped the sink.)
            _log.Warning("Sink {0}: final flush failed ({1}); undelivered lines are re-sent on restart", _sink.Id, e.GetType().Name);
        }
        finally
        {
            DisposeQuietly(_target);
        }

        base.PostStop();
    }

    // The output could not be written: a file or folder made unwritable (UnauthorizedAccessException is no IOException), a
    // full disk, a lost mount.
    private static bool IsOutputFailure(Exception e) => e is IOException or UnauthorizedAccessException;

    private static void DisposeQuietly(IDeliveryTarget? target)
    {
        try
        {
            target?.Dispose();
        }
        catch (Exception e) when (IsOutputFailure(e))
        {
            // Its buffered lines were lost with the flush that failed just before.
        }
    }

    private void RestoreSettledAbove(WatermarkAdvanced w)
    {
        _settledAbove.Clear();
        foreach (SequenceRange range in w.SettledAbove)
        {
            for (long seq = Math.Max(range.From, _done + 1); seq <= range.To; seq++)
            {
                _settledAbove.Add(seq);
            }
        }
    }

    private void OnRecovered()
    {
        if (_readOnly)
        {
            _state = "recorded";
            Become(ReadOnly);
            Stash.UnstashAll();
            return;
        }

        _next = _done;
        Timers.StartPeriodicTimer("watermark", SaveWatermark.Instance, WatermarkInterval);
        if (_replayJournaled is { } interrupted)
        {
            // Journaled as under way and never as ended, and it stays so until the run again ends (a snapshot meanwhile
            // keeps it; an end before it delivers anything, e.g. nothing left to match, still records that it ended).
            // Cut short by a stop: some patients may have only their older messages re-applied. Run again from its start
            // once the sink is live (this message waits in the stash until then).
            if (_failures?.ReplayFailures(interrupted.ReplayId) >= ReplayRestartsAtMost)
            {
                // It keeps failing at the sink's output: not sent again and again. Recorded as ended, said in the log.
                _log.Warning("Sink {0}: replay {1} of stream {2} was cut short by {3} failures in a row; it is not run again: patients it had reached "
                    + "may be left at an older message until it is run again (once the sink's output works)", _sink.Id, interrupted.ReplayId, StreamId,
                    ReplayRestartsAtMost);
                Self.Tell(new AbandonReplay(interrupted));
            }
            else
            {
                _log.Warning("Sink {0}: replay {1} of stream {2} was cut short; it runs again from its start", _sink.Id,
                    interrupted.ReplayId, StreamId);
                Self.Tell(new ResumeReplay(interrupted));
            }
        }

        long[] releasing = [.. _quarantine.Values.Where(q => q.Releasing is not null).Select(q => q.SequenceNr)];
        if (releasing.Length > 0)
        {
            // An operator's retry or skip was delivering the parked messages one by one when the sink stopped: it carries
            // on from the first one not yet recorded as delivered (at most that one goes to the server twice).
            _log.Warning("Sink {0}: the release of quarantined sequence {1} was cut short by a stop; it carries on", _sink.Id,
                string.Join(", ", releasing));
            // Under way from now on (commands stashed during recovery find the sink busy); it runs once the sink is live.
            _releases = new Releases(ActorRefs.Nobody, true, string.Empty, null, releasing);
            Self.Tell(ContinueRelease.Instance);
        }

        Subscribe();
    }

    // Opened after the sink has announced itself, so a target that cannot open (an unwritable folder) fails and
    // retries this sink with backoff without keeping the listeners closed.
    private void EnsureTarget()
    {
        if (_target is not null)
        {
            return;
        }

        IDeliveryTarget target = _targetFactory(null);
        _held = target.Open(_outputPosition); // written after the last persisted watermark: counted, not written again
        _target = target;
        CarryOnRetriesFoundInTheOutput();
        // What the last run wrote may still be only with the OS (a kill -9 leaves up to a second of it there): the first
        // watermark syncs it before counting any of it, even if nothing new is written by then.
        _unsynced = true;
        _log.Info("Sink {0} on stream {1} resumes after sequence {2} ({3} lanes)", _sink.Id, StreamId, _done, _lanes.Lanes);
    }

    // A quarantined message whose line the output already holds was being retried when the sink stopped: the line went
    // out, the record of it did not. Its release carries on by itself (what was parked behind it follows, in order), as
    // one journaled as under way does; nobody has to give the retry again.
    private void CarryOnRetriesFoundInTheOutput()
    {
        if (_held.Count == 0)
        {
            return;
        }

        long[] retried = [.. _quarantine.Values.Where(q => q.Releasing is null && _held.Contains(q.SequenceNr)).Select(q => q.SequenceNr).Order()];
        if (retried.Length == 0)
        {
            return;
        }

        _log.Warning("Sink {0}: the release of quarantined sequence {1} was cut short by a stop; it carries on", _sink.Id, string.Join(", ", retried));
        if (_releases is { } recovered)
        {
            foreach (long seq in retried)
            {
                recovered.Pending.Enqueue(seq); // after the ones journaled as under way
            }

            return;
        }

        _releases = new Releases(ActorRefs.Nobody, true, "retried before a restart", null, retried);
        Self.Tell(ContinueRelease.Instance);
    }

    private void Subscribe()
    {
        _state = "subscribing";
        BecomeStacked(Subscribing);
        _journal.Tell(new SubscribeLive(Self, LiveWindow));
        _ungranted = 0;
        _liveInLanes.Clear(); // offers of the previous subscription: settling them grants nothing to the new one
        // The journal may be restarting (its supervisor drops messages meanwhile): ask again until it answers.
        Timers.StartPeriodicTimer("subscribe", ResubscribeTick.Instance, ResubscribeInterval);
    }

    private void Subscribing()
    {
        Command<ResubscribeTick>(_ => _journal.Tell(new SubscribeLive(Self, LiveWindow)));
        Command<LiveSubscribed>(s =>
        {
            Timers.Cancel("subscribe");
            UnbecomeStacked();
            if (!_recoveredWatermark)
            {
                // First start of this sink: pin where it begins, so "now" stays the same moment across restarts.
                _recoveredWatermark = true;
                if (_sink.StartFrom == StartFrom.Now && s.HighestSequenceNr > _done)
                {
                    _done = _next = s.HighestSequenceNr;
                }

                _origin = _done;
                PersistWatermark();
            }

            Announce();
            EnsureTarget();
            if (s.HighestSequenceNr > _next)
            {
                CatchUp(s.HighestSequenceNr);
            }
            else
            {
                if (_lanes.Count == 0)
                {
                    EndFailureStreak("up to date at sequence", _done); // its output opened and nothing waits: no watermark will move
                }

                BecomeLive();
            }
        });
        // Offers of the previous subscription: the catch-up from the journal covers them, and counting them against the
        // new demand would let more than LiveWindow events be outstanding.
        Command<LiveEvent>(_ => { });
        Housekeeping();
        CommandAny(_ => Stash.Stash());
    }

    private void CatchUp(long to)
    {
        _state = "catching-up";
        _catchUpAckTo = null;
        _log.Info("Sink {0} catching up on stream {1} from {2} to {3}", _sink.Id, StreamId, _next + 1, to);
        // Where the journal starts now: a gap below it was deleted by retention (while this sink was out of the
        // configuration, say), not left by rejected writes. Known before the first batch is taken.
        _heldFrom = -1;
        _catchUpStartedBy = null;
        int catchUp = ++_catchUps;
        ReadJournal().CurrentEventsByPersistenceId(StreamId, 1, long.MaxValue).Take(1).RunWith(Sink.FirstOrDefault<EventEnvelope>(), _materializer)
            .PipeTo(Self, success: first => new FirstHeld(catchUp, first?.SequenceNr ?? long.MaxValue), failure: _ => new FirstHeld(catchUp, 0));
        Batched(ReadJournal().CurrentEventsByPersistenceId(StreamId, _next + 1, to))
            .RunWith(Sink.ActorRefWithAck<EnvelopeBatch>(Self, CatchUpStarted.Instance, CatchUpAck.Instance, CatchUpCompleted.Instance,
                e => new CatchUpFailed(e)), _materializer);
        BecomeStacked(CatchingUp);
    }

    private void CatchingUp()
    {
        Command<CatchUpStarted>(_ =>
        {
            if (_heldFrom >= 0)
            {
                Sender.Tell(CatchUpAck.Instance);
            }
            else
            {
                _catchUpStartedBy = Sender;
            }
        });
        Command<FirstHeld>(f =>
        {
            if (f.CatchUp == _catchUps)
            {
                _heldFrom = f.SequenceNr;
                _catchUpStartedBy?.Tell(CatchUpAck.Instance);
                _catchUpStartedBy = null;
            }
        });
        Command<EnvelopeBatch>(batch =>
        {
            foreach (EventEnvelope envelope in batch.Envelopes)
            {
                if (envelope.Event is IIngestEvent e && envelope.SequenceNr > _next)
                {
                    SkipHoles(envelope.SequenceNr - 1);
                    Process(envelope.SequenceNr, e);
                }
            }

            // Read on while the lanes have room; else when they drain.
            _catchUpAckTo = Sender;
            AckCatchUpIfDue();
        });
        Command<CatchUpCompleted>(_ =>
        {
            // Holes are passed over only below an event actually read: a rejected write at the very end keeps its
            // number unused in the store, and a restarted journal gives that number to the next message.
            _catchUpAckTo = null;
            _catchUpStartedBy = null; // an empty range ends without waiting for its first ack
            UnbecomeStacked();
            BecomeLive();
        });
        Command<CatchUpFailed>(f => throw new InvalidOperationException($"Sink '{_sink.Id}' could not read the journal.", f.Cause));
        Command<LiveEvent>(_ => Stash.Stash());
        Housekeeping();
        CommandAny(_ => Stash.Stash());
    }

    // Sequence numbers the journal does not hold (a write the store rejected keeps its number): settled as filtered.
    private void SkipHoles(long upTo)
    {
        if (upTo > _next)
        {
            if (upTo < _heldFrom)
            {
                // Retention only waits for the sinks in the configuration: these aged out while this one was not there.
                _log.Warning("Sink {0}: sequence numbers {1} to {2} of stream {3} were deleted by retention (retention.replayWindow) before this sink read them "
                    + "(it was not in the configuration, or not running, while they aged out); passed over, counted as filtered, not delivered",
                    _sink.Id, _next + 1, upTo, StreamId);
            }
            else
            {
                _log.Warning("Sink {0}: sequence numbers {1} to {2} of stream {3} are not in the journal (rejected writes); passed over",
                    _sink.Id, _next + 1, upTo, StreamId);
            }

            for (long seq = _next + 1; seq <= upTo; seq++)
            {
                if (seq > _done && !_settledAbove.Contains(seq))
                {
                    _filtered++;
                    Settle(seq);
                }
            }

            _next = upTo;
        }
    }

    private void BecomeLive()
    {
        _state = "live";
        Become(Live);
        Stash.UnstashAll();
    }

    private void Live()
    {
        Command<LiveEvent>(live =>
        {
            if (live.SequenceNr <= _next)
            {
                _ungranted++;
                GrantIfDue();
                return; // already taken by a catch-up
            }

            if (live.SequenceNr > _next + 1)
            {
                // A gap: the journal dropped offers while this sink was behind. Read the missing range, then go live.
                Subscribe();
                return;
            }

            _liveInLanes.Add(live.SequenceNr); // granted back to the journal once settled: the lanes hold at most the window
            Process(live.SequenceNr, live.Event);
            GrantIfDue();
        });
        Command<LiveSubscribed>(_ => { });
        Command<SaveWatermark>(_ =>
        {
            PersistWatermarkIfBehind();
            LogMappingWarningSummary(force: false);
            if (_done == _doneAtLastTick && _lanes.Count == 0)
            {
                // Idle for a tick: check that nothing was committed without reaching us (a journal that restarted
                // has forgotten its subscribers).
                _journal.Tell(GetHighestSequenceNr.Instance);
            }

            _doneAtLastTick = _done;
        });
        Command<long>(highest =>
        {
            if (highest > _next && _done == _doneAtLastTick)
            {
                Subscribe();
            }
        });
        Command<RetryQuarantined>(r => Release(r.SequenceNr, retry: true, note: "retried"));
        Command<SkipQuarantined>(s => Release(s.SequenceNr, retry: false, note: s.Reason));
        Command<ReplayRequest>(r =>
        {
            if (r.DryRun)
            {
                CountDryRun(r, Sender);
                return;
            }

            if (_releases is { } busy)
            {
                // A replay would deliver the patient's parked messages while the release is still delivering them (and a
                // --failed-only one is a release of its own).
                Sender.Tell(new ReplayResult(r.ReplayId, _sink.Id, _listener.Id, 0, 0, 0, 0, 0, r.DryRun, null)
                {
                    Error = $"{busy.Describe()} is under way; try again when it ends",
                });
                return;
            }

            StartReplay(r, Sender);
        });
        Command<ResumeReplay>(r => StartReplay(
            new ReplayRequest(r.Started.ReplayId, r.Started.FromSequenceNr, r.Started.Since, r.Started.MessageType, false, r.Started.Rate, false),
            ActorRefs.Nobody));
        Command<AbandonReplay>(a =>
        {
            _failures?.ReplayEnded();
            if (_replayJournaled?.ReplayId == a.Started.ReplayId)
            {
                _replayJournaled = null;
                _pendingWrites++;
                PersistAsync(new ReplayEnded(a.Started.ReplayId), Written);
            }
        });
        Housekeeping();
    }

    // Answered in every state.
    private void Housekeeping()
    {
        Command<FirstHeld>(_ => { }); // an empty catch-up's range ends without waiting for it: nothing to hold
        Command<RecordProgress>(_ =>
        {
            IActorRef replyTo = Sender;
            if (!_recoveredWatermark)
            {
                replyTo.Tell(ProgressRecorded.Instance); // a first start not yet pinned: nothing settled to record
                return;
            }

            // The engine is stopping: no lane starts any more, and the record waits for the ones under way (a line a
            // lane wrote after it would be counted only at the next start, shown meanwhile as in flight).
            _quiet = true;
            (_progressTo ??= []).Add(replyTo);
            RecordProgressOnceQuiet();
            if (_progressTo is not null)
            {
                // A lane waiting on a slow server must not hold up the stop: after a moment the record is made as it
                // stands (what such a lane still writes is counted when the engine next starts).
                Timers.StartSingleTimer("record-progress", RecordProgressNow.Instance, RecordProgressWait);
            }
        });
        Command<RecordProgressNow>(_ => RecordProgressOnceQuiet(evenIfBusy: true));
        Command<SaveSnapshotSuccess>(saved =>
        {
            _snapshotting = false;
            Timers.Cancel("snapshot-answer");
            _snapshotSeq = saved.Metadata.SequenceNr;
            DeleteMessages(saved.Metadata.SequenceNr);
            DeleteSnapshots(new SnapshotSelectionCriteria(saved.Metadata.SequenceNr - 1));
        });
        Command<TakeSnapshot>(_ => OnTakeSnapshot());
        Command<SnapshotUnanswered>(_ => _snapshotting = false);
        Command<SaveSnapshotFailure>(f =>
        {
            _snapshotting = false;
            _log.Warning("Sink {0}: snapshot failed ({1})", _sink.Id, f.Cause.GetType().Name);
        });
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(f => _log.Warning("Sink {0}: could not delete events before its snapshot ({1})", _sink.Id, f.Cause.GetType().Name));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
        Command<SaveWatermark>(_ =>
        {
            PersistWatermarkIfBehind();
            LogMappingWarningSummary(force: false);
        });
        Command<FlushNow>(_ => Flush());
        Command<LaneDone>(OnLaneDone);
        // A release goes on while the sink catches up too (the patient's messages read meanwhile are parked behind it).
        Command<ReleaseDelivered>(OnReleaseDelivered);
        Command<ContinueRelease>(_ =>
        {
            if (_target is null)
            {
                Stash.Stash(); // a release carried on after a restart: once the output is open (live)
                return;
            }

            if (_releases is { } run)
            {
                run.Journaled = run.Current is not null; // (the step that wrote was the release's own)
                if (_quiet)
                {
                    return; // the engine is stopping (RecordProgress): a release journaled as under way carries on at the next start
                }

                RunReleases();
            }
        });
        Command<DeliveriesRecorded>(recorded =>
        {
            foreach (long seq in recorded.SequenceNrs)
            {
                _lanes.Release(seq);
            }

            Pump();
            GrantIfDue();
            AckCatchUpIfDue();
        });
        Command<LaneFailed>(f =>
        {
            if (ReferenceEquals(f.Epoch, _stopping))
            {
                // A failure a retry may cure (I/O, a server down): the sink restarts with backoff from its watermark, and the
                // work of its other lanes is done again (idempotently).
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(f.Cause is AggregateException { InnerException: { } inner } ? inner : f.Cause).Throw();
            }
        });
        StateAnswers();
        Command<TraceRequest>(OnTrace);
        Command<TraceRead>(OnTraceRead);
    }

    private void StateAnswers()
    {
        Command<GetSinkStatus>(_ => Sender.Tell(new SinkStatus(_sink.Id, _listener.Id, StreamId, _state, _done, _origin, Counts(), _quarantine.Count)
        {
            Persisted = _durableWatermark,
            PersistedAbove = _durableSettledAbove,
            Lanes = _lanes.Lanes,
            InLanes = _lanes.Count,
        }));
        Command<ListQuarantine>(_ => Sender.Tell(new QuarantineList([.. _quarantine.Values.Select(Item)])));
        Command<ShowQuarantined>(s => Sender.Tell(_quarantine.TryGetValue(s.SequenceNr, out Quarantined? q)
            ? new QuarantineDetail(Item(q), [.. q.Parked.Select(p => p.SequenceNr)],
                s.Raw ? System.Text.Encoding.UTF8.GetString(q.Message.Raw.Span) : null)
            : new QuarantineActionResult(false, $"no open quarantine {s.Id}")));
    }

    // The recorded state, as a stopped engine left it: answered, never changed.
    private void ReadOnly()
    {
        StateAnswers();
        Command<TraceRequest>(OnTrace);
        Command<TraceRead>(OnTraceRead);
        Command<QuarantineCommand>(_ => Sender.Tell(new QuarantineActionResult(false, "the engine is not running: retry and skip go through a running engine")));
    }

    // Full only while something in the lanes can still lower it: with the lanes empty (after a restart restored a full
    // set) reading must go on, or nothing would ever settle the gap holding the low mark.
    private bool SettledAboveFull() => _settledAbove.Count >= MaxSettledAbove && _lanes.Count > 0;

    private void GrantIfDue()
    {
        // A message stuck in a lane (a FHIR request retrying) holds the low mark: stop taking more once this many are
        // done above it, so the watermark's ranges stay bounded; the journal keeps the rest for a catch-up.
        if (_ungranted >= LiveWindow / 2 && !SettledAboveFull())
        {
            _journal.Tell(new GrantDemand(_ungranted));
            _ungranted = 0;
        }
    }

    private static string[] KeysOf(IIngestEvent e) => e is MessageReceived m
        ? m.PriorPatientKeyHash.Length > 0 ? [m.PatientKeyHash, m.PriorPatientKeyHash] : m.PatientKeyHash.Length > 0 ? [m.PatientKeyHash] : []
        : [];

    // Journal order in: settled at once when parked behind a quarantine or already written before a crash, else queued in
    // the lanes behind the patient's earlier messages.
    private void Process(long seq, IIngestEvent journaled)
    {
        _next = seq;
        if (seq <= _done || _settledAbove.Contains(seq))
        {
            // Settled before a restart, out of order (a later lane finished first); the low mark may have passed it since,
            // when an earlier message was settled at once (written before the crash).
            if (_liveInLanes.Remove(seq))
            {
                _ungranted++;
            }

            return;
        }

        string[] keys = KeysOf(journaled);
        if (BlockerOf(keys) is { } blocking && !_lanes.Holds(keys))
        {
            // Parked at once only when none of its patients' earlier messages is still in the lanes; else it queues behind
            // them and is parked in its turn, so what is parked behind a quarantine is always in the patient's order.
            Park(seq, journaled, blocking);
            return;
        }

        if (_held.Contains(seq))
        {
            Complete(seq, journaled, _target!.Classify(journaled)); // written before a crash: counted, not written again
            return;
        }

        _lanes.Add(seq, keys, journaled);
        Pump();
    }

    // Starts what the lanes allow: each lane's messages prepared (and, for a FHIR server, delivered) on the thread pool.
    private void Pump()
    {
        if (_quiet)
        {
            return; // the engine is stopping (RecordProgress): what waits in the lanes is delivered at the next start
        }

        IDeliveryTarget target = _target!;
        while (_lanes.TryStartLane(target.LaneBatch) is { } batch)
        {
            if (_blocked.Count > 0)
            {
                // A patient's earlier message was quarantined while this one waited in the lane.
                batch.RemoveAll(m =>
                {
                    if (BlockerOf(KeysOf(m.Item)) is not { } blocking)
                    {
                        return false;
                    }

                    _lanes.Release(m.SequenceNr);
                    Park(m.SequenceNr, m.Item, blocking);
                    return true;
                });
            }

            if (batch.Count == 0)
            {
                _lanes.EndLane();
                continue;
            }

            Start(target, batch);
        }
    }

    // Its own frame: the lambdas capture this lane's values, never a loop's variables that move on.
    private void Start(IDeliveryTarget target, List<(long SequenceNr, IIngestEvent Item)> batch)
    {
        CancellationTokenSource epoch = _stopping;
        Task<PreparedDelivery[]> lane = RunLane(target, batch);
        lane.PipeTo(Self, success: prepared => new LaneDone(epoch, lane, prepared, batch), failure: e => new LaneFailed(epoch, e));
    }

    // One lane's messages prepared one after another on the thread pool, tracked until the result is back on the actor (a
    // stop awaits it). A failure (one a retry may cure: a server down, I/O; a message that cannot succeed is a quarantine
    // result, not a failure) fails the lane, and so the sink, live or replaying.
    private Task<PreparedDelivery[]> RunLane(IDeliveryTarget target, List<(long SequenceNr, IIngestEvent Item)> batch)
    {
        CancellationToken stopping = _stopping.Token;
        Task<PreparedDelivery[]> lane = Task.Run(async () =>
        {
            var prepared = new PreparedDelivery[batch.Count];
            for (int i = 0; i < batch.Count; i++)
            {
                stopping.ThrowIfCancellationRequested(); // a stop does not wait for the rest of the group
                prepared[i] = await target.PrepareAsync(batch[i].SequenceNr, batch[i].Item, stopping).ConfigureAwait(false);
            }

            return prepared;
        }, stopping);
        _running.Add(lane);
        return lane;
    }

    private void OnLaneDone(LaneDone done)
    {
        if (!ReferenceEquals(done.Epoch, _stopping))
        {
            return; // started before a restart: its messages are read again from the watermark
        }

        _running.Remove(done.Lane);
        _unflushed = true;
        bool recordFirst = _target!.RecordsEachDelivery;
        for (int i = 0; i < done.Batch.Count; i++)
        {
            (long seq, IIngestEvent journaled) = done.Batch[i];
            if (!TryCommit(_target!, done.Prepared[i], out DeliveryResult result))
            {
                break; // the engine is stopping: this message and the rest of the lane go again at the next start
            }

            if (recordFirst)
            {
                (_awaitingRecord ??= []).Add(seq); // its patient's next message waits for the record
            }
            else
            {
                _lanes.Release(seq);
            }

            Complete(seq, journaled, result);
        }

        _lanes.EndLane();
        if (_awaitingRecord is { Count: > 0 } delivered)
        {
            // One write records every delivery settled meanwhile (group commit); then their patients go on. As a
            // message of its own: what follows may persist (a parked message), which Akka.Persistence does not flush
            // from inside a persist callback (the sink hung after a quarantine).
            _awaitingRecord = null;
            PersistWatermark(() => Self.Tell(new DeliveriesRecorded(delivered)));
        }

        Pump();
        GrantIfDue();
        AckCatchUpIfDue();
        RecordProgressOnceQuiet();
    }

    // The engine's stop has begun (SIGTERM, Ctrl-C, an exit), as opposed to this sink stopping after a failure.
    private bool EngineStopping => (_shutdown ??= CoordinatedShutdown.Get(Context.System)).ShutdownReason is not null;

    // Commits a prepared delivery; false when it is left for the next start because the engine is stopping: a target
    // that delivers in its commit (onward MLLP) sends nothing new once the stop has begun, and a send the receiver
    // still held when the stop's grace ran out (no ACK) is given up. Either way it is not delivered, and nothing more
    // starts. A receiver that answers within the grace thus gets each message once.
    private bool TryCommit(IDeliveryTarget target, in PreparedDelivery prepared, out DeliveryResult result)
    {
        result = default;
        if (target.DeliversOnCommit && (_quiet || EngineStopping))
        {
            // The stop has begun (SIGTERM): known at once, where RecordProgress waits in the mailbox behind the lanes
            // already done, each of which would otherwise still be sent.
            _quiet = true;
            return false;
        }

        try
        {
            result = target.Commit(prepared);
            return true;
        }
        catch (OperationCanceledException) when (EngineStopping)
        {
            _log.Info("Sink {0} on stream {1}: the engine stopped while sequence {2} waited for its receiver; it goes again when the engine next starts",
                _sink.Id, StreamId, prepared.SequenceNr);
            _quiet = true;
            return false;
        }
    }

    // The record RecordProgress asked for, once nothing runs off the actor: it flushes (and in fsync mode syncs) the
    // output first.
    private void RecordProgressOnceQuiet(bool evenIfBusy = false)
    {
        if (_progressTo is not { } waiting || (_running.Count > 0 && !evenIfBusy))
        {
            return;
        }

        _progressTo = null;
        Timers.Cancel("record-progress");
        PersistWatermark(then: () => waiting.ForEach(r => r.Tell(ProgressRecorded.Instance)));
    }

    private void AckCatchUpIfDue()
    {
        if (_catchUpAckTo is not null && _lanes.Count < CatchUpInFlight && !SettledAboveFull())
        {
            _catchUpAckTo.Tell(CatchUpAck.Instance);
            _catchUpAckTo = null;
        }
    }

    private void Complete(long seq, IIngestEvent journaled, DeliveryResult result)
    {
        if (result.Outcome == DeliveryOutcome.Quarantined)
        {
            Quarantine(seq, journaled, result.Reason ?? "Unknown", KeysOf(journaled));
            return;
        }

        if (result is { Outcome: DeliveryOutcome.Filtered, Reason: { } withheld })
        {
            // The audit of a withheld message (e.g. the national data opt-out): its position and why, never who.
            _log.Info("Sink {0}: sequence {1} of stream {2} withheld: {3}", _sink.Id, seq, StreamId, withheld);
        }
        else
        {
            LogMappingWarnings(seq, result);
        }

        Count(result.Outcome);
        Settle(seq);
        if (!_flushScheduled)
        {
            // Hand the lines to the OS a little later, once per batch. They reach the disk (fsync mode) only before a
            // watermark that counts them is persisted, about once a second: a sink's fsync per batch would compete with
            // the journal's commits for the disk (the ACK never waits for a sink; its watermark waits for the fsync).
            _flushScheduled = true;
            Timers.StartSingleTimer("flush", FlushNow.Instance, _flushDelay);
        }
    }

    // Lanes finish out of order: the watermark is the contiguous low mark plus what is settled above it.
    private void Settle(long seq)
    {
        if (_liveInLanes.Remove(seq))
        {
            _ungranted++;
        }

        _settledSincePersist++;

        if (seq == _done + 1)
        {
            _done = seq;
            while (_settledAbove.Count > 0 && _settledAbove.Min == _done + 1)
            {
                _settledAbove.Remove(++_done);
            }
        }
        else if (seq > _done)
        {
            _settledAbove.Add(seq);
        }
    }

    // The open quarantine holding one of these patients, if any (none at all on the usual path: one dictionary check).
    private Quarantined? BlockerOf(string[] keys)
    {
        if (_blocked.Count == 0)
        {
            return null;
        }

        foreach (string key in keys)
        {
            if (_blocked.TryGetValue(key, out Quarantined? blocker))
            {
                return blocker;
            }
        }

        return null;
    }

    // During a release the patient's block is the releasing entry's; another open quarantine holding the patient (or a
    // parked merge that carries the patient, which holds them once the entry closes) keeps a parked message waiting.
    private Quarantined? OtherBlockerOf(string[] keys, Quarantined releasing)
    {
        foreach (string key in keys)
        {
            if (_blocked.TryGetValue(key, out Quarantined? blocker) && !ReferenceEquals(blocker, releasing))
            {
                return blocker;
            }
        }

        if (_quarantine.Count > 1)
        {
            foreach (string key in keys)
            {
                if (_quarantine.Values.FirstOrDefault(q => !ReferenceEquals(q, releasing) && q.Parked.Any(p => KeysOf(p.Message).Contains(key))) is { } holder)
                {
                    return holder;
                }
            }
        }

        return null;
    }

    // Written already (before a crash, after the last watermark): counted as what it was, not written again. Used one at
    // a time, on the actor, by an operator's release.
    private DeliveryResult DeliverOnce(long seq, IIngestEvent journaled)
    {
        if (_held.Contains(seq))
        {
            return _target!.Classify(journaled);
        }

        _unflushed = true;
        return _target!.Deliver(seq, journaled);
    }

    // The first message a warning (code and position) is seen on is logged (its sequence, never its content); the rest
    // are summed up at most every 10 s: a feed whose every message has the same flaw (a Trust profile's MRN authority the
    // sender does not use) is one line, then a count.
    private void LogMappingWarnings(long seq, in DeliveryResult result)
    {
        if (result is not { Outcome: DeliveryOutcome.Delivered, Warnings: { } warnings })
        {
            return;
        }

        for (int i = 0; i < warnings.Count; i++)
        {
            string warning = BundleMapping.WarningText(warnings[i]);
            if (_mappingWarnings.First(warning))
            {
                _log.Warning("Sink {0}: sequence {1} of stream {2} delivered with mapping warning {3} (the first with it; later ones are "
                    + "counted in a line at most every 10 s)", _sink.Id, seq, StreamId, warning);
            }
        }
    }

    private void LogMappingWarningSummary(bool force)
    {
        if (_mappingWarnings.TakeSummary(force) is { } summary)
        {
            _log.Warning("Sink {0}: {1} more mapping warning(s) on stream {2} since the last such line", _sink.Id, summary, StreamId);
        }
    }

    private void Count(DeliveryOutcome outcome)
    {
        StreamEngineTelemetry.SinkOutcomes.Add(1, _sinkTag, new("outcome", outcome.ToString()));
        if (outcome == DeliveryOutcome.Delivered)
        {
            _delivered++;
        }
        else
        {
            _filtered++;
        }
    }

    // Persisted with the watermark in one atomic write, after the output before it is flushed: recovery is exact.
    private void Quarantine(long seq, IIngestEvent journaled, string reason, string[] keys)
    {
        _log.Warning("Sink {0}: message at sequence {1} quarantined ({2})", _sink.Id, seq, reason);
        StreamEngineTelemetry.SinkOutcomes.Add(1, _sinkTag, new("outcome", nameof(DeliveryOutcome.Quarantined)));
        var quarantined = new MessageQuarantined(seq, reason, keys, journaled, DateTimeOffset.UtcNow);
        OpenQuarantine(quarantined);
        _quarantined++;
        Settle(seq);
        Write([quarantined, Watermark()]);
    }

    private void Park(long seq, IIngestEvent journaled, Quarantined blocking)
    {
        StreamEngineTelemetry.SinkOutcomes.Add(1, _sinkTag, new("outcome", "Parked"));
        var parked = new MessageParked(seq, blocking.SequenceNr, journaled);
        ParkBehind(parked);
        _parked++;
        Settle(seq);
        Write([parked, Watermark()]);
    }

    private void OpenQuarantine(MessageQuarantined q)
    {
        if (_quarantine.TryGetValue(q.SequenceNr, out Quarantined? open))
        {
            open.Reason = q.Reason; // a retry that failed again: same entry, new reason, its parked messages kept
            return;
        }

        if (_parkedBehind.Remove(q.SequenceNr, out Quarantined? was))
        {
            was.Parked.RemoveAll(p => p.SequenceNr == q.SequenceNr); // a parked message that failed on release
        }

        var entry = new Quarantined(q.SequenceNr, q.Reason, q.Message, q.At, [.. q.PatientKeys]);
        _quarantine[q.SequenceNr] = entry;
        foreach (string key in q.PatientKeys)
        {
            _blocked[key] = entry;
        }
    }

    private void ParkBehind(MessageParked p)
    {
        if (_parkedBehind.Remove(p.SequenceNr, out Quarantined? was))
        {
            was.Parked.RemoveAll(x => x.SequenceNr == p.SequenceNr);
        }

        if (!_quarantine.TryGetValue(p.BehindSequenceNr, out Quarantined? behind))
        {
            return;
        }

        behind.Parked.Add(new ParkedMessage(p.SequenceNr, p.Message));
        _parkedBehind[p.SequenceNr] = behind;
        foreach (string key in KeysOf(p.Message))
        {
            if (!_blocked.ContainsKey(key))
            {
                behind.Keys.Add(key); // a merge parked here holds its other patient too (unless another entry does)
                _blocked[key] = behind;
            }
        }
    }

    private void CloseQuarantine(long seq)
    {
        if (!_quarantine.Remove(seq, out Quarantined? entry))
        {
            return;
        }

        foreach (string key in entry.Keys)
        {
            if (_blocked.TryGetValue(key, out Quarantined? b) && ReferenceEquals(b, entry))
            {
                _blocked.Remove(key);

                // A merge parked behind another quarantine carries this patient too: the patient stays blocked there,
                // or a later message of theirs would overtake the merge.
                if (_quarantine.Values.FirstOrDefault(q => q.Parked.Any(p => KeysOf(p.Message).Contains(key))) is { } holder)
                {
                    _blocked[key] = holder;
                    holder.Keys.Add(key);
                }
            }
        }

        foreach (ParkedMessage p in entry.Parked)
        {
            _parkedBehind.Remove(p.SequenceNr);
        }
    }

    // An operator's retry or skip: refused while another release is under way (one at a time keeps each patient's order
    // simple to reason about, and a release is short next to an operator's typing).
    private void Release(long seq, bool retry, string note)
    {
        if (_releases is { } busy)
        {
            Sender.Tell(new QuarantineActionResult(false, $"busy: {busy.Describe()} is under way; try again when it ends"));
            return;
        }

        _releases = new Releases(Sender, retry, note, null, [seq]);
        RunReleases();
    }

    // Releases one quarantine after another until the run's list is done, then answers. A step that has to be recorded
    // before the next delivery (a sink that records each delivery) ends the turn; its write's callback sends
    // ContinueRelease, which resumes here (never a persist from inside a persist callback).
    private void RunReleases()
    {
        Releases run = _releases!;
        while (true)
        {
            if (run.Current is null)
            {
                if (!run.Pending.TryDequeue(out long seq))
                {
                    _releases = null;
                    run.Answer(_sink.Id, _listener.Id);
                    return;
                }

                if (Unreleasable(seq) is { } refused)
                {
                    run.Ended(refused, _quarantine.TryGetValue(seq, out Quarantined? unreleased) ? unreleased.Parked.Count : 0);
                    continue;
                }

                run.Begin(_quarantine[seq]);
            }

            if (!ReleaseStep(run))
            {
                return;
            }
        }
    }

    private QuarantineActionResult? Unreleasable(long seq)
    {
        if (!_quarantine.TryGetValue(seq, out Quarantined? entry))
        {
            return new QuarantineActionResult(false, $"no open quarantine at sequence {seq}");
        }

        // (A message without a patient key has nothing parked behind it and no patient order to keep. A release already
        // under way holds its patients: whatever of theirs is still in the lanes is newer than all that is parked, and
        // is parked behind it when it comes out, or delivered after it closes.)
        if (entry.Keys.Count > 0 && entry.Releasing is null && (_lanes.Holds(entry.Keys) || entry.Parked.Any(p => _lanes.Holds(KeysOf(p.Message)))))
        {
            // Earlier messages of these patients are still on their way to being parked: releasing now would overtake them.
            return new QuarantineActionResult(false, $"busy: messages of the patient at sequence {seq} are still in the sink's lanes; try again in a moment");
        }

        return null;
    }

    // One step of a release: the quarantined message itself (delivered again, or skipped), then what is parked behind
    // it, oldest first; a parked message that fails becomes the new quarantined one and the rest stay parked behind it.
    // The quarantine stays open (its patients blocked, later messages parked behind it) until the last step closes it.
    // Once the message itself is settled, the release is journaled as under way (if anything is parked): a restart
    // carries it on where it stopped. On a sink that records each delivery (a FHIR server, onward MLLP), each delivery
    // is journaled before the next is sent, so a kill -9 never makes the server take a patient's older message after a
    // newer one. A file sink writes the parked ones FileReleaseStep to a turn, each step recorded in one write that
    // flushes (and in fsync mode syncs) its lines first; the sink answers between steps, and a state recorded between
    // them is whole (a line written before a crash is found in the file again and counted, not written twice). False
    // when the step waits for its write.
    private bool ReleaseStep(Releases run)
    {
        Quarantined entry = run.Current!;
        long seq = entry.SequenceNr;
        bool recordEach = _target!.RecordsEachDelivery;
        if (entry.Releasing is null)
        {
            bool retry = run.Retry;
            string note = run.Note;
            if (_held.Contains(seq))
            {
                // A retry wrote it before a crash: it is delivered, whatever the operator now asks.
                _quarantined--;
                Count(DeliveryOutcome.Delivered);
                retry = true;
                note = run.Retry ? note : "delivered by a retry before a restart";
            }
            else if (retry)
            {
                if (DeliverInRelease(run, seq, entry.Message) is not { } result)
                {
                    return false; // under way off the actor: ReleaseDelivered carries on
                }

                if (result.Outcome == DeliveryOutcome.Quarantined)
                {
                    var again = new MessageQuarantined(seq, result.Reason ?? "Unknown", [.. entry.Keys], entry.Message, DateTimeOffset.UtcNow);
                    entry.Reason = again.Reason;
                    run.Events.Add(again);
                    run.Ended(new QuarantineActionResult(false, $"still quarantined: {again.Reason}"), entry.Parked.Count);
                    return WriteStep(run); // answered once it is recorded
                }

                _quarantined--;
                Count(result.Outcome);
                LogMappingWarnings(seq, result);
            }
            else
            {
                _quarantined--;
                _filtered++; // skipped by an operator: settled, not delivered
            }

            entry.Releasing = new QuarantineReleasing(seq, retry ? QuarantineResolved.Retried : QuarantineResolved.Skipped, note, DateTimeOffset.UtcNow);
            if (entry.Parked.Count > 0)
            {
                // Journaled as under way before anything parked goes out (the write flushes, and in fsync mode syncs, the
                // message's own line first): a restart carries the release on, a file sink's included.
                run.Events.Add(entry.Releasing);
                return WriteStep(run);
            }

            return true;
        }

        // The one whose delivery is under way first (a merge parked meanwhile may sort before it: another patient's),
        // then the oldest.
        ParkedMessage? next = (run.ResultFor >= 0 ? entry.Parked.Find(p => p.SequenceNr == run.ResultFor) : null)
            ?? entry.Parked.MinBy(p => p.SequenceNr);
        if (next is null)
        {
            QuarantineReleasing releasing = entry.Releasing;
            CloseQuarantine(seq);
            var resolution = new QuarantineResolved(seq, releasing.Action, releasing.Note, releasing.At);
            _resolved[seq] = resolution;
            run.Events.Add(resolution);
            _log.Info("Sink {0}: quarantined message at sequence {1} {2}; {3} parked messages delivered", _sink.Id, seq, releasing.Action, run.Released);
            run.Ended(new QuarantineActionResult(true, $"{(resolution.IsSkip ? "skipped" : "delivered")}; {run.Released} parked message(s) delivered"
                + (run.FailedAt is null ? string.Empty : $"; sequence {run.FailedAt.SequenceNr} quarantined ({run.FailedAt.Reason})"), run.Released));
            if (run.FailedAt is not null)
            {
                // A parked message that failed in turn, and what is now parked behind it (a --failed-only replay counts them).
                run.Failed += 1 + run.FailedAt.Parked.Count;
                run.HeldBehind += run.FailedAt.Parked.Count;
            }

            return WriteStep(run); // answered (or the next one begun) once it is recorded: a failed write restarts the sink first
        }

        string[] keys = KeysOf(next.Message);
        if (run.ResultFor != next.SequenceNr && OtherBlockerOf(keys, entry) is { } other)
        {
            // A merge whose other patient is held by another open quarantine: it moves behind that one.
            var moved = new MessageParked(next.SequenceNr, other.SequenceNr, next.Message);
            ParkBehind(moved);
            run.Events.Add(moved);
            return true;
        }

        if (DeliverInRelease(run, next.SequenceNr, next.Message) is not { } delivered)
        {
            return false; // under way off the actor: ReleaseDelivered carries on
        }

        if (delivered.Outcome == DeliveryOutcome.Quarantined)
        {
            // The new quarantined message; what is still parked here moves behind it, in order, and this one closes.
            var q = new MessageQuarantined(next.SequenceNr, delivered.Reason ?? "Unknown", keys, next.Message, DateTimeOffset.UtcNow);
            _parked--;
            OpenQuarantine(q);
            _quarantined++;
            run.Events.Add(q);
            Quarantined failed = _quarantine[next.SequenceNr];
            foreach (ParkedMessage rest in entry.Parked.OrderBy(p => p.SequenceNr).ToList())
            {
                var moved = new MessageParked(rest.SequenceNr, failed.SequenceNr, rest.Message);
                ParkBehind(moved);
                run.Events.Add(moved);
            }

            run.FailedAt = failed;
            return true; // nothing parked here any more: the next step closes it
        }

        _parked--;
        Count(delivered.Outcome);
        LogMappingWarnings(next.SequenceNr, delivered);
        run.Released++;
        RemoveParked(next.SequenceNr);
        run.Events.Add(new ParkedReleased(next.SequenceNr, seq));
        if (!recordEach && run.Events.Count < FileReleaseStep)
        {
            return true; // a file sink records its lines a step at a time
        }

        return WriteStep(run);
    }

    // A release's delivery. To a server (a sink that records each delivery) it runs off the actor, cancelled if the sink
    // stops, so that a slow or unreachable server neither keeps the sink from answering status and list meanwhile nor
    // holds up its stop; the step is taken again with the result once it is back. A file is written on the actor, at once.
    private DeliveryResult? DeliverInRelease(Releases run, long seq, IIngestEvent journaled)
    {
        if (run.ResultFor == seq && run.Result is { } done)
        {
            run.ResultFor = -1;
            run.Result = null;
            return done;
        }

        IDeliveryTarget target = _target!;
        if (!target.RecordsEachDelivery || _held.Contains(seq))
        {
            return DeliverOnce(seq, journaled);
        }

        CancellationTokenSource epoch = _stopping;
        Task<PreparedDelivery> delivery = target.PrepareAsync(seq, journaled, epoch.Token);
        _running.Add(delivery);
        run.ResultFor = seq;
        run.Result = null;
        delivery.PipeTo(Self, success: prepared => new ReleaseDelivered(epoch, delivery, prepared), failure: e => new LaneFailed(epoch, e));
        return null;
    }

    private void OnReleaseDelivered(ReleaseDelivered done)
    {
        if (!ReferenceEquals(done.Epoch, _stopping))
        {
            return; // started before a restart: the release is carried on from what was recorded
        }

        if (_releases is not { } run || run.ResultFor != done.Prepared.SequenceNr)
        {
            // Never expected: the release would wait for good. Restart and carry it on from what was recorded instead.
            throw new InvalidOperationException($"Sink '{_sink.Id}': a release's delivery of sequence {done.Prepared.SequenceNr} came back unexpected.");
        }

        _running.Remove(done.Delivery);
        _unflushed = true;
        if (!TryCommit(_target!, done.Prepared, out DeliveryResult result))
        {
            run.ResultFor = -1; // the engine is stopping: the release carries on from what was recorded at the next start
            RecordProgressOnceQuiet();
            return;
        }

        run.Result = result;
        RunReleases(); // records this step; the next waits for its ContinueRelease
        RecordProgressOnceQuiet();
    }

    // The step's events with a watermark (its counts), one atomic write; the release goes on once it is done.
    private bool WriteStep(Releases run)
    {
        bool final = run.Current is null;
        Write([.. run.Events, Watermark()], then: () =>
        {
            run.LastRecorded = final; // a stop before ContinueRelease still answers what was done
            Self.Tell(ContinueRelease.Instance);
        });
        run.Events.Clear();
        return false;
    }

    private void MarkReleasing(QuarantineReleasing r)
    {
        if (_quarantine.TryGetValue(r.SequenceNr, out Quarantined? q))
        {
            q.Releasing = r;
        }
    }

    private void RemoveParked(long seq)
    {
        if (_parkedBehind.Remove(seq, out Quarantined? behind))
        {
            behind.Parked.RemoveAll(p => p.SequenceNr == seq);
        }
    }

    private void OnTrace(TraceRequest request)
    {
        IActorRef replyTo = Sender;
        var outcomes = new Dictionary<long, string>();
        var toRead = new List<long>();
        foreach (long seq in request.SequenceNrs)
        {
            if (_quarantine.TryGetValue(seq, out Quarantined? q))
            {
                outcomes[seq] = $"quarantined: {q.Reason}";
            }
            else if (_parkedBehind.TryGetValue(seq, out Quarantined? behind))
            {
                outcomes[seq] = $"parked behind sequence {behind.SequenceNr}";
            }
            else if (_resolved.TryGetValue(seq, out QuarantineResolved? resolved))
            {
                outcomes[seq] = resolved.IsSkip
                    ? $"skipped by an operator at {resolved.At:O}: {resolved.Note}"
                    : $"delivered after a retry at {resolved.At:O}";
            }
            else if (seq <= _origin)
            {
                outcomes[seq] = "before this sink started";
            }
            else if (seq > _done && !_settledAbove.Contains(seq))
            {
                outcomes[seq] = "pending";
            }
            else
            {
                toRead.Add(seq); // done: delivered or filtered, as the target decides for the journaled event
            }
        }

        if (_readOnly && _classifier is null)
        {
            // Nothing to classify with: settled is all the record says.
            toRead.ForEach(seq => outcomes[seq] = "delivered or filtered");
            toRead.Clear();
        }

        if (toRead.Count == 0)
        {
            replyTo.Tell(new TraceAnswer(_sink.Id, _listener.Id, outcomes));
            return;
        }

        IMaterializer materializer = _materializer;
        ICurrentEventsByPersistenceIdQuery query = ReadJournal();
        Task.WhenAll(toRead.Select(seq => query.CurrentEventsByPersistenceId(StreamId, seq, seq).RunWith(Sink.FirstOrDefault<EventEnvelope>(), materializer)))
            .PipeTo(Self, success: envelopes => new TraceRead(replyTo, outcomes, envelopes, toRead), failure: _ => new TraceRead(replyTo, outcomes, [], toRead));
    }

    private void OnTraceRead(TraceRead read)
    {
        var outcomes = new Dictionary<long, string>(read.Outcomes);
        for (int i = 0; i < read.Envelopes.Length && i < read.Read.Count; i++)
        {
            if (read.Envelopes[i] is null)
            {
                // Settled here, and no longer in the journal: retention deletes only what every sink has passed.
                outcomes[read.Read[i]] = "delivered or filtered (retention has deleted it from the journal)";
            }
        }

        foreach (EventEnvelope? envelope in read.Envelopes)
        {
            if (envelope?.Event is IIngestEvent e)
            {
                outcomes[envelope.SequenceNr] = (_target is not null ? _target.Classify(e) : _classifier?.Classify(e)) switch
                {
                    { Outcome: DeliveryOutcome.Filtered, Reason: null } => "filtered",
                    { Outcome: DeliveryOutcome.Filtered, Reason: { } why } => "filtered: " + why,
                    { Outcome: DeliveryOutcome.Delivered, Warnings: { } warnings } => "delivered, with mapping warnings: " + BundleMapping.WarningsText(warnings),
                    _ => "delivered",
                };
            }
        }

        read.ReplyTo.Tell(new TraceAnswer(_sink.Id, _listener.Id, outcomes));
    }

    private void StartReplay(ReplayRequest request, IActorRef replyTo)
    {
        if (request.FailedOnly)
        {
            ReplayFailed(request, replyTo);
            return;
        }

        long from = Math.Max(1, request.FromSequenceNr ?? 1);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        IMaterializer materializer = _materializer;
        ICurrentEventsByPersistenceIdQuery query = ReadJournal();
        string stream = StreamId;
        long to = _next; // up to the present this sink has reached; live work resumes after the replay
        _replayAsker = (request, replyTo);
        _state = "replaying";
        BecomeStacked(Replaying);
        Source<EventEnvelope, NotUsed> Events(long start) => query.CurrentEventsByPersistenceId(stream, start, to);
        if (request.MessageType is null && request.Since is null)
        {
            // Every message from the start point matches, so every patient is affected from there on: one pass suffices.
            // The first event still in the journal tells whether retention deleted part of the range asked for.
            Events(from).Take(1).RunAggregate(new ReplaySelection { First = from, To = to, All = true }, (selection, e) =>
                {
                    selection.Saw(e);
                    return selection;
                }, materializer)
                .PipeTo(Self, success: selection => new ReplaySelected(request, replyTo, selection) { Started = started },
                    failure: e => new ReplayAborted(request, replyTo, e));
            return;
        }

        // Pass 1: which patients (and which messages without a patient) match, and where the first of them is.
        Events(from)
            .RunAggregate(new ReplaySelection { To = to }, (selection, e) => selection.Select(e, request), materializer)
            .PipeTo(Self, success: selection => new ReplaySelected(request, replyTo, selection) { Started = started },
                failure: e => new ReplayAborted(request, replyTo, e));
    }

    // --failed-only: every open quarantine (matching the filters) is retried, with what is parked behind it, one after
    // another; answered when all are done. A rejected frame (no usable MSH, so no type) cannot succeed: it is counted as
    // failing, rather than left out of the count as if nothing were open, and stays for an operator's skip.
    private void ReplayFailed(ReplayRequest request, IActorRef replyTo)
    {
        var run = new Releases(replyTo, true, $"replay {request.ReplayId}", request, []);
        foreach (Quarantined q in _quarantine.Values)
        {
            if (!Matches(q, request))
            {
                continue;
            }

            run.Matched += 1 + q.Parked.Count;
            if (q.Message is FrameRejected)
            {
                // Never a message (no usable MSH): a retry would only journal another copy of it, quarantined again.
                run.Failed += 1 + q.Parked.Count;
                run.HeldBehind += q.Parked.Count;
                continue;
            }

            run.Pending.Enqueue(q.SequenceNr);
        }

        _releases = run;
        RunReleases();
    }

    private static bool Matches(Quarantined q, ReplayRequest request) =>
        (request.Since is null || q.Message.ReceivedAt >= request.Since)
        && (request.FromSequenceNr is null || q.SequenceNr >= request.FromSequenceNr)
        && (request.MessageType is null || (q.Message is MessageReceived m && TypeMatches(m.MessageType, request.MessageType)));

    // --dry-run: what a replay would send, counted off the actor in whatever the sink is doing (beside a replay or a
    // release under way); live delivery goes on meanwhile. A message an operator skipped stays skipped in a replay, so it
    // is counted apart.
    private void CountDryRun(ReplayRequest request, IActorRef replyTo)
    {
        var none = new ReplayResult(request.ReplayId, _sink.Id, _listener.Id, 0, 0, 0, 0, 0, true, null);
        if (request.FailedOnly)
        {
            long parked = _quarantine.Values.Where(q => Matches(q, request)).Sum(q => 1L + q.Parked.Count);
            replyTo.Tell(none with { Matched = parked, Messages = parked });
            return;
        }

        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        long from = Math.Max(1, request.FromSequenceNr ?? 1);
        long to = _next;
        HashSet<long> skipped = [.. _resolved.Values.Where(r => r.IsSkip).Select(r => r.SequenceNr)];
        IMaterializer materializer = _materializer;
        ICurrentEventsByPersistenceIdQuery query = ReadJournal();
        string stream = StreamId;
        CountAsync().PipeTo(replyTo, failure: e => none with
        {
            Error = $"reading the journal failed ({(e is AggregateException { InnerException: { } inner } ? inner : e).GetType().Name})",
        });

        async Task<ReplayResult> CountAsync()
        {
            bool all = request.MessageType is null && request.Since is null;
            var selection = new ReplaySelection { To = to, All = all, First = all ? from : long.MaxValue };
            await query.CurrentEventsByPersistenceId(stream, from, to).Take(all ? 1 : long.MaxValue)
                .RunForeach(e => selection.Select(e, request), materializer);
            (long All, long Go) n = (0, 0);
            if (all || selection.Matched > 0)
            {
                n = await query.CurrentEventsByPersistenceId(stream, selection.First, to).Where(selection.Includes)
                    .RunAggregate((All: 0L, Go: 0L), (c, e) => (c.All + 1, skipped.Contains(e.SequenceNr) ? c.Go : c.Go + 1), materializer);
            }

            ReplayResult counted = none with
            {
                Matched = all ? n.All : selection.Matched,
                Messages = n.All,
                Filtered = n.All - n.Go,
                Seconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds,
            };
            return selection.Deleted(request) is { } deleted ? counted with { RetainedFrom = deleted.Sequence, RetainedSince = deleted.ReceivedAt } : counted;
        }
    }

    private void Replaying()
    {
        Command<ReplaySelected>(selected =>
        {
            ReplayRequest request = selected.Request;
            ReplaySelection selection = selected.Selection;
            _replayDeleted = selection.Deleted(request);
            if (selection.Matched == 0 && !selection.All)
            {
                EndReplay(selected.ReplyTo, new ReplayResult(request.ReplayId, _sink.Id, _listener.Id, 0, 0, 0, 0, 0, request.DryRun, null));
                return;
            }

            // Pass 2: every message of the selected patients from the first match to the present, in order.
            Source<EventEnvelope, NotUsed> source = ReadJournal().CurrentEventsByPersistenceId(StreamId, selection.First, selection.To)
                .Where(selection.Includes);
            if (request.Rate is { } rate and > 0)
            {
                int perSecond = Math.Max(1, (int)Math.Ceiling(rate));
                // A burst of at most 50 ms worth (at least one message): a full second's worth at once let the start
                // of a replay run at many times the cap.
                source = source.Throttle(perSecond, TimeSpan.FromSeconds(1), Math.Max(1, perSecond / 20), ThrottleMode.Shaping);
            }

            // Journaled before anything goes, so that a stop part-way runs it again after the restart (ReplayStarted).
            // The output is opened first: one that cannot open fails the sink before the replay is journaled, so it is not
            // run again (and failing again) after every restart.
            IDeliveryTarget target;
            IReadOnlySet<long> written;
            try
            {
                target = _targetFactory(request.ReplayId);
                // A replay's own file holds what a run cut short wrote: not written twice (a server holds no such list).
                written = target.Open(0);
            }
            catch (Exception e) when (_replayJournaled?.ReplayId == request.ReplayId)
            {
                CountReplayFailure(request.ReplayId, e); // one run again after a failure: its output failing counts too
                throw;
            }

            var started = new ReplayStarted(request.ReplayId, request.FromSequenceNr, request.Since, request.MessageType, request.Rate);
            _pendingWrites++;
            Persist(started, e =>
            {
                Written(e);
                _replayJournaled = started;
                var run = new ReplayRun(request, selected.ReplyTo, selection.All ? null : selection.Matched, target, _lanes.Lanes)
                {
                    Started = selected.Started,
                    AlreadyWritten = written,
                };
                _replay = run;
                Batched(source).RunWith(Sink.ActorRefWithAck<EnvelopeBatch>(Self, CatchUpStarted.Instance, CatchUpAck.Instance, CatchUpCompleted.Instance,
                    failure => new CatchUpFailed(failure)), _materializer);
                _log.Info("Sink {0}: replay {1} of stream {2} started ({3})", _sink.Id, request.ReplayId, StreamId,
                    selection.All ? $"every message from sequence {selection.First}" : $"{selection.Matched} matching messages");
            });
        });
        Command<CatchUpStarted>(_ => Sender.Tell(CatchUpAck.Instance));
        Command<EnvelopeBatch>(batch =>
        {
            // Through lanes of its own, like live work: patients in parallel, each patient's messages in order.
            ReplayRun run = _replay!;
            foreach (EventEnvelope envelope in batch.Envelopes)
            {
                run.Messages++;
                if (run.AlreadyWritten.Contains(envelope.SequenceNr))
                {
                    run.Delivered++; // by the run a stop cut short, into this replay's own file
                    continue;
                }

                if (_resolved.TryGetValue(envelope.SequenceNr, out QuarantineResolved? resolved) && resolved.IsSkip)
                {
                    // An operator skipped it (with a reason, audited): the replay brings the output to the current state,
                    // in which it was not delivered, so it stays skipped rather than failing again.
                    run.Filtered++;
                    continue;
                }

                var e = (IIngestEvent)envelope.Event;
                if (run.Ahead)
                {
                    run.Lanes.AddUnordered(envelope.SequenceNr, e); // any may start at once; committed in journal order (ReplayRun.Committing)
                }
                else
                {
                    run.Lanes.Add(envelope.SequenceNr, KeysOf(e), e);
                }
            }

            run.AckTo = Sender;
            PumpReplay(run);
        });
        Command<ReplayLaneDone>(done =>
        {
            _running.Remove(done.Lane);
            if (!ReferenceEquals(done.Run, _replay))
            {
                return;
            }

            ReplayRun run = done.Run;
            if (!run.Ahead)
            {
                for (int i = 0; i < done.Batch.Count; i++)
                {
                    if (!CommitReplayed(run, done.Batch[i].SequenceNr, done.Batch[i].Item, done.Prepared[i]))
                    {
                        return; // the engine is stopping
                    }
                }
            }
            else
            {
                // Lanes finish in any order: what is prepared waits until everything started before it is committed.
                for (int i = 0; i < done.Batch.Count; i++)
                {
                    run.Prepared[done.Batch[i].SequenceNr] = (done.Batch[i].Item, done.Prepared[i]);
                }

                while (run.Committing.TryPeek(out long next) && run.Prepared.Remove(next, out (IIngestEvent Item, PreparedDelivery Prepared) ready))
                {
                    run.Committing.Dequeue();
                    if (!HeldBehindAFailure(run, next, ready.Item) && !CommitReplayed(run, next, ready.Item, ready.Prepared))
                    {
                        // (Held back: not prepared before an earlier message of the same patient failed.)
                        return; // the engine is stopping
                    }
                }
            }

            run.Lanes.EndLane();
            PumpReplay(run);
            RecordProgressOnceQuiet();
        });
        Command<ReplayLaneFailed>(f =>
        {
            _running.Remove(f.Lane);
            if (ReferenceEquals(f.Run, _replay) && !_quiet && !EngineStopping)
            {
                Exception cause = f.Cause is AggregateException { InnerException: { } inner } ? inner : f.Cause;
                CountReplayFailure(f.Run.Request.ReplayId, cause);
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(cause).Throw();
            }

            // Otherwise a run that ended already, or the engine is stopping: the replay is journaled as under way and runs
            // again at the next start.
        });
        Command<CatchUpCompleted>(_ =>
        {
            _replay!.Read = true;
            PumpReplay(_replay);
        });
        Command<CatchUpFailed>(f =>
        {
            // The journal read failed: the replay ends once what its lanes are doing is done (nothing left behind running).
            ReplayRun run = _replay!;
            run.Read = true;
            run.Error = f.Cause;
            PumpReplay(run);
        });
        Command<ReplayAborted>(a =>
        {
            _log.Warning("Sink {0}: replay {1} failed ({2})", _sink.Id, a.Request.ReplayId, a.Cause.GetType().Name);
            EndReplay(a.ReplyTo, new ReplayResult(a.Request.ReplayId, _sink.Id, _listener.Id, 0, 0, 0, 0, 0, a.Request.DryRun, null)
            {
                Error = $"reading the journal failed ({a.Cause.GetType().Name})",
            });
        });
        Command<LiveEvent>(_ => { }); // not granted again: live work catches up from the journal after the replay
        Command<ReplayRequest>(r =>
        {
            if (r.DryRun)
            {
                CountDryRun(r, Sender); // only counts: beside the replay under way
                return;
            }

            Sender.Tell(new ReplayResult(r.ReplayId, _sink.Id, _listener.Id, 0, 0, 0, 0, 0, DryRun: false, null)
            {
                Error = "another replay of this sink's stream is running; try again when it ends",
            });
        });
        // A replay can take long: an operator's retry or skip is refused at once rather than queued behind it.
        Command<RetryQuarantined>(_ => Sender.Tell(new QuarantineActionResult(false, "a replay of this sink's stream is running; retry when it ends")));
        Command<SkipQuarantined>(_ => Sender.Tell(new QuarantineActionResult(false, "a replay of this sink's stream is running; skip when it ends")));
        Housekeeping();
        CommandAny(_ => Stash.Stash());
    }

    private ReplayRun? _replay;
    private Releases? _releases;

    // Who asked for the replay running now: answered even if the sink stops (a failure) before the replay ends.
    private (ReplayRequest Request, IActorRef ReplyTo)? _replayAsker;

    // A replay journaled as started and not yet as ended: the one running now, or one a stop cut short (recovered).
    private ReplayStarted? _replayJournaled;

    // Deliveries to a target that cannot be asked what it holds, settled and not yet recorded: their patients' next
    // messages wait until a watermark counting them is persisted (IDeliveryTarget.RecordsEachDelivery).
    private List<long>? _awaitingRecord;

    // The running replay asked for messages retention had deleted: the first sequence number (and its receipt) still held.
    private (long Sequence, DateTimeOffset? ReceivedAt)? _replayDeleted;

    // Starts what the replay's lanes allow, reads on while they have room, and ends the replay once all is read and done.
    private void PumpReplay(ReplayRun run)
    {
        // The engine stopping (RecordProgress) starts no more of it: journaled as under way, it runs again at the next start.
        while (!_quiet && run.Lanes.TryStartLane(run.Target.LaneBatch) is { } batch)
        {
            if (run.FailedKeys.Count > 0)
            {
                // As live work parks a patient's later messages behind a quarantined one: once a patient's message
                // failed in this replay, their later ones are not started (a FHIR target delivers while preparing), so
                // the replay's output keeps every patient's order. The lanes release a patient's next message only
                // after the earlier one's result is back here, so the failure is always known first (prepared ahead,
                // a message may start before that result: it is checked again when its turn to be committed comes).
                batch.RemoveAll(m => HeldBehindAFailure(run, m.SequenceNr, m.Item));
            }

            if (batch.Count == 0)
            {
                run.Lanes.EndLane();
                continue;
            }

            StartReplayLane(run, batch);
        }

        if (run.AckTo is not null && run.Lanes.Count < CatchUpInFlight)
        {
            run.AckTo.Tell(CatchUpAck.Instance);
            run.AckTo = null;
        }

        if (run.Read && run.Lanes.Count == 0)
        {
            FinishReplay(run.Error);
        }
    }

    // A replayed message of a patient with a failed message earlier in this replay: counted as failed, held behind, done.
    private static bool HeldBehindAFailure(ReplayRun run, long seq, IIngestEvent item)
    {
        string[] keys = KeysOf(item);
        if (keys.Length == 0 || !run.FailedKeys.Overlaps(keys))
        {
            return false;
        }

        run.Failed++;
        run.HeldBehind++;
        run.FailedKeys.UnionWith(keys); // a merge holds back both patients
        run.Lanes.Release(seq);
        return true;
    }

    // Commits one replayed message and counts what became of it; false when the engine is stopping. A failure (the
    // replay's file unwritable, an onward MLLP receiver gone) restarts the sink, as a lane's does (ReplayLaneFailed).
    private bool CommitReplayed(ReplayRun run, long seq, IIngestEvent item, in PreparedDelivery prepared)
    {
        DeliveryResult result;
        try
        {
            if (!TryCommit(run.Target, prepared, out result))
            {
                return false; // the engine is stopping: the replay runs again from its start at the next start
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            if (_quiet || EngineStopping)
            {
                return false; // the replay is journaled as under way: it runs again at the next start
            }

            CountReplayFailure(run.Request.ReplayId, e);
            throw;
        }

        switch (result.Outcome)
        {
            case DeliveryOutcome.Delivered: run.Delivered++; break;
            case DeliveryOutcome.Filtered: run.Filtered++; break;
            default: run.Failed++; run.FailedKeys.UnionWith(KeysOf(item)); break;
        }

        run.Lanes.Release(seq);
        return true;
    }

    // Replays cut short by a failure, in a row (in this process), after which one is not run again.
    private const int ReplayRestartsAtMost = 5;

    // A failure a retry may cure (a server down past its retries, a connection lost, an output that cannot be written) cut
    // the replay short. As live work does, the sink restarts with backoff, and the replay, journaled as under way, runs
    // again from its start once the sink has caught up (ResumeReplay): ending it here would leave a patient whose older
    // message it re-applied without the newer one after it. Counted (the caller throws): one that keeps failing is not
    // run again for ever.
    private void CountReplayFailure(string replayId, Exception cause)
    {
        int failures = _failures?.ReplayFailed(replayId) ?? 1;
        _log.Warning("Sink {0}: replay {1} stopped by a failure a retry may cure ({2}, {3} in a row); the sink restarts and runs it again from its start", _sink.Id,
            replayId, cause.GetType().Name, failures);
    }

    private void StartReplayLane(ReplayRun run, List<(long SequenceNr, IIngestEvent Item)> batch)
    {
        if (run.Ahead)
        {
            foreach ((long seq, _) in batch)
            {
                run.Committing.Enqueue(seq); // lanes start in journal order: this is the order of the commits
            }
        }

        Task<PreparedDelivery[]> lane = RunLane(run.Target, batch);
        lane.PipeTo(Self, success: prepared => new ReplayLaneDone(run, lane, batch, prepared), failure: e => new ReplayLaneFailed(run, lane, e));
    }

    // Ends the replay: done, or stopped part-way by a failure to read the journal.
    private void FinishReplay(Exception? failure)
    {
        ReplayRun run = _replay!;
        try
        {
            run.Target.Flush(_durable);
        }
        catch (Exception e) when (IsOutputFailure(e))
        {
            if (failure is null)
            {
                if (_quiet || EngineStopping)
                {
                    return; // left journaled as under way: it runs again at the next start (the stop disposes the output)
                }

                // The end of its output could not be written (a full disk): a failure of the replay's output like any other,
                // so the sink restarts and runs it again.
                CountReplayFailure(run.Request.ReplayId, e);
                throw;
            }
        }

        _replay = null;
        DisposeQuietly(run.Target);
        _failures?.ReplayEnded();
        if (failure is not null)
        {
            _log.Warning("Sink {0}: replay {1} stopped ({2})", _sink.Id, run.Request.ReplayId, failure.GetType().Name);
        }

        _log.Info("Sink {0}: replay {1} done: {2} messages, {3} delivered, {4} filtered, {5} failed", _sink.Id, run.Request.ReplayId,
            run.Messages, run.Delivered, run.Filtered, run.Failed);
        if (run.HeldBehind > 0)
        {
            _log.Info("Sink {0}: replay {1}: {2} of the failed were held behind an earlier failure of their patient", _sink.Id, run.Request.ReplayId, run.HeldBehind);
        }
        EndReplay(run.ReplyTo, ResultOf(run.Request, run,
            failure is null ? null : $"stopped part-way: reading the journal failed ({failure.GetType().Name})"));
    }

    // What a replay did (nothing, when it had not started delivering), and why it stopped short if it did: then one more
    // failed, so the exit code says so.
    private ReplayResult ResultOf(ReplayRequest request, ReplayRun? run, string? error) =>
        new(request.ReplayId, _sink.Id, _listener.Id, run?.Matched ?? run?.Messages ?? 0, run?.Messages ?? 0, run?.Delivered ?? 0, run?.Filtered ?? 0,
            (run?.Failed ?? 0) + (error is null ? 0 : 1), request.DryRun, run is null ? null : ReplayOutput(request))
        {
            Seconds = run is null ? 0 : System.Diagnostics.Stopwatch.GetElapsedTime(run.Started).TotalSeconds,
            HeldBehind = run?.HeldBehind ?? 0,
            Error = error,
        };

    // A file sink's replay writes to a folder of its own (replays/{id}/); a FHIR or MLLP sink's goes to its server.
    private string? ReplayOutput(ReplayRequest request) => _sink.Type == "ndjson" ? request.ReplayId : null;

    private void EndReplay(IActorRef replyTo, ReplayResult result)
    {
        if (_replayJournaled is { } journaled)
        {
            _replayJournaled = null;
            _pendingWrites++;
            PersistAsync(new ReplayEnded(journaled.ReplayId), Written);
        }

        if (replyTo.IsNobody())
        {
            // A replay run again after a restart: nobody waits for it, so its result goes to the log.
            string outcome = $"{result.Messages} messages, {result.Delivered} delivered, {result.Filtered} filtered, {result.Failed} failed"
                + (result.Error is null ? string.Empty : $" ({result.Error})");
            _log.Info("Sink {0}: replay {1} of stream {2} run again after a restart: {3}", _sink.Id, result.ReplayId, StreamId, outcome);
        }

        _replayAsker = null;
        replyTo.Tell(_replayDeleted is { } deleted ? result with { RetainedFrom = deleted.Sequence, RetainedSince = deleted.ReceivedAt } : result);
        _replayDeleted = null;
        UnbecomeStacked();
        Subscribe(); // live offers were not granted meanwhile: catch up from the journal, then go live
    }

    private static bool TypeMatches(string messageType, string wanted)
    {
        // "ADT^A08" matches "ADT^A08^ADT_A01"; "ADT" matches every ADT.
        string[] have = messageType.Split('^');
        string[] want = wanted.Split('^');
        return want.Length <= have.Length && want.Select((w, i) => w.Equals(have[i], StringComparison.OrdinalIgnoreCase)).All(x => x);
    }

    // Journal reads arrive in batches: a catch-up or a replay takes a batch at a time into its lanes.
    private static Source<EnvelopeBatch, NotUsed> Batched(Source<EventEnvelope, NotUsed> events) =>
        events.GroupedWithin(256, TimeSpan.FromMilliseconds(20)).Select(g => new EnvelopeBatch([.. g]));

    private ICurrentEventsByPersistenceIdQuery ReadJournal() =>
        PersistenceQuery.Get(Context.System).ReadJournalFor<ICurrentEventsByPersistenceIdQuery>(_readJournalPluginId);

    private SinkCounts Counts() => new(_delivered, _filtered, _quarantined, _parked);

    // Every watermark syncs the output first, so it never runs ahead of what is on disk; the position it records is
    // where a restart starts checking what is there.
    private WatermarkAdvanced Watermark()
    {
        FlushOutput(_durable);
        return new(_done, _origin, Counts(), OutputPosition()) { SettledAbove = SequenceRange.Of(_settledAbove) };
    }

    // The end of the output, unless a line the last run wrote past its watermark (held) is not yet counted, or is still
    // quarantined or parked (a release counts it from the file): then where this run opened the output, so that a
    // restart before it is counted finds it again rather than writing it twice. That is still _outputPosition: every
    // watermark since the open recorded it, as held lines are only forgotten once none pins it.
    private long OutputPosition()
    {
        if (_target is null)
        {
            return _outputPosition;
        }

        if (_held.Count > 0)
        {
            foreach (long seq in _held)
            {
                if ((seq > _done && !_settledAbove.Contains(seq)) || _quarantine.ContainsKey(seq) || _parkedBehind.ContainsKey(seq))
                {
                    return _outputPosition;
                }
            }

            // All counted, none quarantined or parked (a settled message never becomes either again): nothing will look
            // them up any more, and the next watermarks need not scan them.
            _held = NothingHeld;
        }

        return _target.Position;
    }

    // Lines go to the OS on every flush; to the disk only when asked (before a watermark, in fsync mode). A line lost
    // with the OS before its watermark was persisted is delivered again after the restart: the watermark is below it.
    private void FlushOutput(bool durable)
    {
        if (_target is null)
        {
            return;
        }

        if (_unflushed || (durable && _unsynced))
        {
            _target.Flush(durable);
            _unflushed = false;
            _unsynced = !durable; // handed to the OS only, or on disk
        }
    }

    private void Flush()
    {
        _flushScheduled = false;
        if (_target is null)
        {
            return;
        }

        FlushOutput(durable: false);
        if (_settledSincePersist >= WatermarkEvery)
        {
            PersistWatermark();
        }
    }

    // The periodic save, whether or not a flush is pending: the watermark flushes (and in fsync mode syncs) the output
    // it counts first. Waiting for a moment with no flush pending never came under a steady trickle of messages (one
    // settles every few milliseconds, a flush waits 20), so the watermark moved only every WatermarkEvery messages.
    private void PersistWatermarkIfBehind()
    {
        if (_settledSincePersist > 0)
        {
            PersistWatermark();
        }
    }

    private void PersistWatermark(Action? then = null)
    {
        _settledSincePersist = 0;
        WatermarkAdvanced watermark = Watermark();
        _outputPosition = watermark.OutputPosition;
        _pendingWrites++;
        PersistAsync(watermark, then is null ? Written : w =>
        {
            Written(w);
            then();
        });
    }

    // State changes: one atomic write, commands wait until it is done.
    private void Write(IReadOnlyList<object> events, Action? then = null)
    {
        _settledSincePersist = 0; // each write carries a watermark
        _pendingWrites += events.Count;
        object last = events[^1];
        PersistAll(events, then is null ? Written : e =>
        {
            Written(e);
            if (ReferenceEquals(e, last))
            {
                then();
            }
        });
    }

    // After each write: a snapshot every SnapshotEvery events, taken only when nothing is in flight, so it holds
    // exactly what the journal holds; then the events before it are deleted, which keeps recovery short. It is asked
    // for from a command, not from inside the persist callback (the store's answer did not come back from there).
    private void Written(object persisted)
    {
        _pendingWrites--;
        if (persisted is WatermarkAdvanced w)
        {
            if (w.SequenceNr > _durableWatermark)
            {
                EndFailureStreak("its watermark moved to", w.SequenceNr);
            }

            _durableWatermark = Math.Max(_durableWatermark, w.SequenceNr);
            _durableSettledAbove = w.SettledAbove.Sum(r => r.To - r.From + 1);
        }

        if (_pendingWrites == 0 && !_snapshotting && LastSequenceNr - _snapshotSeq >= _snapshotEvery)
        {
            _snapshotting = true;
            Self.Tell(TakeSnapshot.Instance);
        }
    }

    // After failures its supervisor counted (or its own store failures), the first sign this incarnation works: one line.
    private void EndFailureStreak(string how, long sequenceNr)
    {
        if (_failures is { Open: true } && _failures.TryEnd(out int failures, out TimeSpan lasted))
        {
            _log.Info("Sink {0} on stream {1} works again: {2} {3} after {4} failure(s) over {5:F0} s", _sink.Id, StreamId, how, sequenceNr,
                failures, lasted.TotalSeconds);
        }
    }

    private void OnTakeSnapshot()
    {
        if (_pendingWrites > 0)
        {
            _snapshotting = false; // a write started meanwhile: the next one that settles takes it
            return;
        }

        {
            // Should the store's answer never come, another snapshot may be taken later; events are only deleted on an answer.
            Timers.StartSingleTimer("snapshot-answer", SnapshotUnanswered.Instance, TimeSpan.FromSeconds(30));
            SaveSnapshot(new SinkSnapshot(Watermark(), [.. _quarantine.Values.Select(q =>
                new MessageQuarantined(q.SequenceNr, q.Reason, [.. q.Keys], q.Message, q.At))],
                [.. _quarantine.Values.SelectMany(q => q.Parked.Select(p => new MessageParked(p.SequenceNr, q.SequenceNr, p.Message)))],
                [.. _resolved.Values.OrderBy(r => r.SequenceNr)])
            {
                Replaying = _replayJournaled,
                Releasing = [.. _quarantine.Values.Where(q => q.Releasing is not null).Select(q => q.Releasing!)],
            });
        }
    }

    private void Announce()
    {
        if (!_announced)
        {
            _announced = true;
            _readyTo?.Tell(new SinkReady(_sink.Id, _listener.Id));
        }
    }

    private QuarantineItem Item(Quarantined q)
    {
        var m = q.Message as MessageReceived;
        return new QuarantineItem($"{_sink.Id}/{_listener.Id}/{q.SequenceNr}", _sink.Id, _listener.Id, q.SequenceNr, q.Reason,
            m?.MessageType ?? string.Empty, m?.ControlId ?? string.Empty, q.At, q.Parked.Count)
        {
            Releasing = q.Releasing?.Action ?? (ReferenceEquals(_releases?.Current, q) ? "retrying" : null),
        };
    }

    private sealed class Quarantined(long sequenceNr, string reason, IIngestEvent message, DateTimeOffset at, HashSet<string> keys)
    {
        public long SequenceNr { get; } = sequenceNr;

        public string Reason { get; set; } = reason;

        public IIngestEvent Message { get; } = message;

        public DateTimeOffset At { get; } = at;

        public HashSet<string> Keys { get; } = keys;

        public List<ParkedMessage> Parked { get; } = [];

        /// <summary>Set once a release has settled the message itself; its parked ones are then going out.</summary>
        public QuarantineReleasing? Releasing { get; set; }
    }

    // An operator's retry or skip of one quarantine, a --failed-only replay's retry of each matching one in turn, or the
    // releases a restart carries on (answered to no one): the one under way, and what is left.
    private sealed class Releases(IActorRef replyTo, bool retry, string note, ReplayRequest? replay, IEnumerable<long> pending)
    {
        private QuarantineActionResult? _last;

        public bool Retry => retry;

        public string Note => note;

        public Queue<long> Pending { get; } = new(pending);

        /// <summary>The current step's events not yet written.</summary>
        public List<object> Events { get; } = [];

        public Quarantined? Current { get; private set; }

        public int Released { get; set; }

        public Quarantined? FailedAt { get; set; }

        /// <summary>The message whose delivery is under way off the actor (-1: none), and its result once back.</summary>
        public long ResultFor { get; set; } = -1;

        public DeliveryResult? Result { get; set; }

        public long Matched { get; set; }

        public long Delivered { get; private set; }

        public long Failed { get; set; }

        /// <summary>Of the failed, those held behind an earlier failure of their patient (parked, not tried).</summary>
        public long HeldBehind { get; set; }

        /// <summary>The last release's outcome is recorded (set from its write's callback, until the next begins).</summary>
        public bool LastRecorded { get; set; }

        /// <summary>The current release is journaled as under way: a restart carries it on.</summary>
        public bool Journaled { get; set; }

        public void Begin(Quarantined entry)
        {
            Current = entry;
            LastRecorded = false;
            Released = 0;
            FailedAt = null;
            ResultFor = -1;
            Result = null;
            Journaled = entry.Releasing is not null;
        }

        public string Describe() => (Current?.SequenceNr ?? (Pending.Count > 0 ? Pending.Peek() : (long?)null)) is { } seq
            ? $"the release of the quarantined message at sequence {seq}"
            : "a release of quarantined messages";

        /// <summary>A release ends; one that failed leaves <paramref name="stillParked"/> messages parked behind it.</summary>
        public void Ended(QuarantineActionResult result, int stillParked = 0)
        {
            Current = null;
            _last = result;
            if (result.Ok)
            {
                Delivered += 1 + Released;
            }
            else
            {
                Failed += 1 + stillParked;
                HeldBehind += stillParked;
            }

            Released = 0;
        }

        public void Answer(string sinkId, string listenerId) => replyTo.Tell(replay is null
            ? _last ?? new QuarantineActionResult(false, "nothing to release")
            : ReplayAnswer(sinkId, listenerId));

        // (Messages parked during the run are delivered by it too.)
        private ReplayResult ReplayAnswer(string sinkId, string listenerId) => new(replay!.ReplayId, sinkId, listenerId, Math.Max(Matched, Delivered + Failed),
            Math.Max(Matched, Delivered + Failed), Delivered, 0, Failed, replay.DryRun, null) { HeldBehind = HeldBehind };

        // The sink stopped (a failure, or the engine's stop) with this run under way: what the asker is told.
        public void Stopped(string sinkId, string listenerId, bool engineStopping)
        {
            if (Current is null && LastRecorded && Pending.Count == 0)
            {
                Answer(sinkId, listenerId); // all done and recorded; only the answer was still to go
                return;
            }

            (string stopped, string restarted, string carriedOn) = engineStopping
                ? ("the engine stopped", "the engine has started again", "when the engine next starts")
                : ("the sink stopped after a failure", "the sink has restarted", "once it has restarted (after a backoff)");
            string error = Current is null
                ? $"{stopped} while recording the release; see quarantine list once {restarted}"
                : !Journaled
                    ? $"{stopped} while releasing sequence {Current.SequenceNr}; run it again once {restarted}"
                    : $"{stopped} while releasing sequence {Current.SequenceNr}; it carries the release on {carriedOn}";
            replyTo.Tell(replay is null
                ? new QuarantineActionResult(false, error)
                : ReplayAnswer(sinkId, listenerId) with { Error = error });
        }
    }

    // What comes back from work off the actor (this, ReplayLaneDone, LaneDone, LaneFailed): after a restart it lands on
    // the stopped incarnation, in dead letters, by design (the new one reads the same messages again from its
    // watermark), so it is not logged as a dead letter.
    private sealed record ReleaseDelivered(CancellationTokenSource Epoch, Task Delivery, PreparedDelivery Prepared) : IDeadLetterSuppression;

    // RecordProgress waited long enough for the lanes under way.
    private sealed class RecordProgressNow
    {
        public static readonly RecordProgressNow Instance = new();
    }

    private sealed class ContinueRelease
    {
        public static readonly ContinueRelease Instance = new();
    }

    private sealed record ParkedMessage(long SequenceNr, IIngestEvent Message);

    private sealed class ReplaySelection
    {
        /// <summary>No filter: every message from <see cref="First"/> on (one pass; counted as it goes).</summary>
        public bool All { get; init; }

        public long To { get; init; }

        public long Matched { get; set; }

        public long First { get; set; } = long.MaxValue;

        public HashSet<string> Keys { get; } = [];

        public HashSet<long> Unkeyed { get; } = [];

        /// <summary>The first event read: the earliest the journal still holds in the range asked for.</summary>
        public EventEnvelope? FirstRead { get; private set; }

        public EventEnvelope Saw(EventEnvelope e)
        {
            FirstRead ??= e;
            return e;
        }

        // Pass 1 (with a filter): the start point is the first message in range; the patients are those with a matching
        // message.
        public ReplaySelection Select(EventEnvelope e, ReplayRequest request)
        {
            if (Saw(e).Event is not MessageReceived m || (request.Since is not null && m.ReceivedAt < request.Since))
            {
                return this;
            }

            First = Math.Min(First, e.SequenceNr);
            if (request.MessageType is not null && !TypeMatches(m.MessageType, request.MessageType))
            {
                return this;
            }

            Matched++;
            string[] keys = KeysOf(m);
            if (keys.Length == 0)
            {
                Unkeyed.Add(e.SequenceNr);
            }

            Keys.UnionWith(keys);
            return this;
        }

        // Pass 2: every message of the selected patients from the first match to the present.
        public bool Includes(EventEnvelope e) =>
            e.Event is MessageReceived m && (All || Unkeyed.Contains(e.SequenceNr) || KeysOf(m).Any(Keys.Contains));

        // Retention deleted what the replay asked for if the journal's first event comes after the start asked for (a
        // sequence number), or was received after the moment asked for (--since) with earlier events gone.
        public (long Sequence, DateTimeOffset? ReceivedAt)? Deleted(ReplayRequest request)
        {
            if (FirstRead is not { } first)
            {
                // Nothing left to read in a range that held messages: retention deleted all of it.
                bool any = request.Since is not null ? To >= 1 : Math.Max(1, request.FromSequenceNr ?? 1) <= To;
                return any ? (To + 1, null) : null;
            }

            DateTimeOffset? receivedAt = (first.Event as IIngestEvent)?.ReceivedAt;
            bool gap = request.Since is { } since
                ? first.SequenceNr > 1 && receivedAt > since
                : first.SequenceNr > Math.Max(1, request.FromSequenceNr ?? 1);
            return gap ? (first.SequenceNr, receivedAt) : null;
        }
    }

    // matched: null when every message read matches (a replay without a filter).
    private sealed class ReplayRun(ReplayRequest request, IActorRef replyTo, long? matched, IDeliveryTarget target, int lanes)
    {
        public LaneScheduler<IIngestEvent> Lanes { get; } = new(lanes);

        /// <summary>What this replay's own output already holds from a run a stop cut short (a file's lines).</summary>
        public IReadOnlySet<long> AlreadyWritten { get; init; } = new HashSet<long>();

        public IActorRef? AckTo { get; set; }

        public bool Read { get; set; }

        public Exception? Error { get; set; }

        public long Started { get; init; }

        public ReplayRequest Request { get; } = request;

        public IActorRef ReplyTo { get; } = replyTo;

        public long? Matched { get; } = matched;

        public IDeliveryTarget Target { get; } = target;

        public long Messages { get; set; }

        public long Delivered { get; set; }

        public long Filtered { get; set; }

        public long Failed { get; set; }

        /// <summary>Failed because an earlier message of the same patient failed in this replay (counted in Failed too).</summary>
        public long HeldBehind { get; set; }

        /// <summary>Patient keys with a failed message in this replay: their later messages are not delivered.</summary>
        public HashSet<string> FailedKeys { get; } = [];

        /// <summary>Messages are prepared ahead of their patient's earlier ones (<see cref="IDeliveryTarget.PreparesAhead"/>).</summary>
        public bool Ahead { get; } = target.PreparesAhead;

        /// <summary>Prepared ahead: the messages started, in journal order, not yet committed.</summary>
        public Queue<long> Committing { get; } = new();

        /// <summary>Prepared ahead: what came back from the lanes and waits for an earlier message's commit.</summary>
        public Dictionary<long, (IIngestEvent Item, PreparedDelivery Prepared)> Prepared { get; } = [];
    }

    private sealed record ReplaySelected(ReplayRequest Request, IActorRef ReplyTo, ReplaySelection Selection)
    {
        public long Started { get; init; }
    }

    private sealed record ReplayLaneFailed(ReplayRun Run, Task Lane, Exception Cause) : IDeadLetterSuppression;

    private sealed record ReplayLaneDone(ReplayRun Run, Task Lane, List<(long SequenceNr, IIngestEvent Item)> Batch, PreparedDelivery[] Prepared) : IDeadLetterSuppression;


    private sealed record ReplayAborted(ReplayRequest Request, IActorRef ReplyTo, Exception Cause);

    private sealed record ResumeReplay(ReplayStarted Started);

    private sealed record AbandonReplay(ReplayStarted Started);

    private sealed record DeliveriesRecorded(List<long> SequenceNrs);

    private sealed record LaneDone(CancellationTokenSource Epoch, Task Lane, PreparedDelivery[] Prepared, List<(long SequenceNr, IIngestEvent Item)> Batch) : IDeadLetterSuppression;

    private sealed record LaneFailed(CancellationTokenSource Epoch, Exception Cause) : IDeadLetterSuppression;

    private sealed record TraceRead(IActorRef ReplyTo, Dictionary<long, string> Outcomes, EventEnvelope?[] Envelopes, List<long> Read);

    private sealed record FirstHeld(int CatchUp, long SequenceNr) : IDeadLetterSuppression;

    private sealed record SaveWatermark : IDeadLetterSuppression // a tick already on its way as the sink stops
    {
        public static SaveWatermark Instance { get; } = new();
    }

    private sealed record ResubscribeTick
    {
        public static ResubscribeTick Instance { get; } = new();
    }

    private sealed record SnapshotUnanswered
    {
        public static SnapshotUnanswered Instance { get; } = new();
    }

    private sealed record TakeSnapshot
    {
        public static TakeSnapshot Instance { get; } = new();
    }

    private sealed record FlushNow
    {
        public static FlushNow Instance { get; } = new();
    }

    private sealed record CatchUpStarted
    {
        public static CatchUpStarted Instance { get; } = new();
    }

    private sealed record CatchUpAck
    {
        public static CatchUpAck Instance { get; } = new();
    }

    private sealed record CatchUpCompleted
    {
        public static CatchUpCompleted Instance { get; } = new();
    }

    private sealed record CatchUpFailed(Exception Cause);

    private sealed record EnvelopeBatch(IReadOnlyList<EventEnvelope> Envelopes);
}
