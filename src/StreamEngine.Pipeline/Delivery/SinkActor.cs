using Akka;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using StreamEngine.Diagnostics;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.Pipeline.Delivery;

/// <summary>Sent to the engine once a sink is subscribed to its stream and knows where to start.</summary>
public sealed record SinkReady(string SinkId, string ListenerId);

/// <summary>
/// Delivers one stream to one sink, in journal order, effectively once. Its watermark (every sequence number up to
/// it is done) is persisted in batches; the target reports what it already holds, so a crash between a write and
/// the watermark re-sends nothing twice. It reads the journal on its own: live events offered by the
/// <see cref="IngestJournal"/> while it keeps up, and a catch-up query (Akka.Persistence.Query) from its
/// watermark after a (re)start or whenever it sees a gap, so a slow or failed sink never holds up ingest.
/// </summary>
public sealed class SinkActor : ReceivePersistentActor, IWithTimers
{
    /// <summary>
    /// Live events a sink may have outstanding before the journal stops offering (then it catches up from the
    /// journal). Small, because each holds its raw message: 256 large messages are a few tens of MiB at most.
    /// </summary>
    internal const int LiveWindow = 256;

    private const int WatermarkEvery = 1000;
    private static readonly TimeSpan WatermarkInterval = TimeSpan.FromSeconds(1);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly SinkSettings _sink;
    private readonly ListenerSettings _listener;
    private readonly IActorRef _journal;
    private readonly Func<IDeliveryTarget> _targetFactory;
    private readonly string _readJournalPluginId;
    private readonly bool _durable;
    private readonly IActorRef? _readyTo;
    private readonly KeyValuePair<string, object?> _sinkTag;
    private IDeliveryTarget? _target;
    private long _done;
    private long _persisted;
    private bool _recoveredWatermark;
    private bool _announced;
    private bool _flushScheduled;
    private int _ungranted;
    private long _doneAtLastTick;

    /// <summary>Creates the sink actor of one sink and one listener's stream.</summary>
    public SinkActor(SinkSettings sink, ListenerSettings listener, IActorRef journal, Func<IDeliveryTarget> targetFactory,
        string readJournalPluginId, Durability durability, IActorRef? readyTo)
    {
        _sink = sink;
        _listener = listener;
        _journal = journal;
        _targetFactory = targetFactory;
        _readJournalPluginId = readJournalPluginId;
        _durable = durability == Durability.Fsync;
        _readyTo = readyTo;
        _sinkTag = new("sink", sink.Id);
        PersistenceId = sink.PersistenceIdFor(listener);

        Recover<WatermarkAdvanced>(w =>
        {
            _recoveredWatermark = true;
            _done = _persisted = Math.Max(_done, w.SequenceNr);
        });
        Recover<RecoveryCompleted>(_ => OnRecovered());
        CommandAny(_ => Stash.Stash());
    }

    /// <inheritdoc />
    public override string PersistenceId { get; }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props for a sink actor.</summary>
    public static Props Props(SinkSettings sink, ListenerSettings listener, IActorRef journal, Func<IDeliveryTarget> targetFactory,
        string readJournalPluginId, Durability durability, IActorRef? readyTo) =>
        Akka.Actor.Props.Create(() => new SinkActor(sink, listener, journal, targetFactory, readJournalPluginId, durability, readyTo));

    /// <inheritdoc />
    protected override void PostStop()
    {
        try
        {
            _target?.Flush(durable: true);
        }
        catch (IOException e)
        {
            _log.Warning("Sink {0}: final flush failed ({1}); undelivered lines are re-sent on restart", _sink.Id, e.GetType().Name);
        }

        _target?.Dispose();
        base.PostStop();
    }

    private void OnRecovered()
    {
        Timers.StartPeriodicTimer("watermark", SaveWatermark.Instance, WatermarkInterval);
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

        IDeliveryTarget target = _targetFactory();
        long held = target.Open();
        _target = target;
        if (held > _done)
        {
            _done = held; // written before the last watermark was persisted: not written again
        }

        _log.Info("Sink {0} on stream {1} resumes after sequence {2}", _sink.Id, _listener.PersistenceId, _done);
    }

    private void Subscribe()
    {
        BecomeStacked(Subscribing);
        _journal.Tell(new SubscribeLive(Self, LiveWindow));
        _ungranted = 0;
    }

    private void Subscribing()
    {
        Command<LiveSubscribed>(s =>
        {
            UnbecomeStacked();
            if (!_recoveredWatermark)
            {
                // First start of this sink: pin where it begins, so "now" stays the same moment across restarts.
                _recoveredWatermark = true;
                if (_sink.StartFrom == StartFrom.Now && s.HighestSequenceNr > _done)
                {
                    _done = s.HighestSequenceNr;
                }

                PersistWatermark();
            }

            Announce();
            EnsureTarget();
            if (s.HighestSequenceNr > _done)
            {
                CatchUp(s.HighestSequenceNr);
            }
            else
            {
                BecomeLive();
            }
        });
        Command<LiveEvent>(_ => Stash.Stash());
        Command<SaveWatermark>(_ => PersistWatermarkIfBehind());
        Command<FlushNow>(_ => Flush());
        CommandAny(_ => Stash.Stash());
    }

    private void CatchUp(long to)
    {
        _log.Info("Sink {0} catching up on stream {1} from {2} to {3}", _sink.Id, _listener.PersistenceId, _done + 1, to);
        var query = PersistenceQuery.Get(Context.System).ReadJournalFor<ICurrentEventsByPersistenceIdQuery>(_readJournalPluginId);
        query.CurrentEventsByPersistenceId(_listener.PersistenceId, _done + 1, to)
            .RunWith(Sink.ActorRefWithAck<EventEnvelope>(Self, CatchUpStarted.Instance, CatchUpAck.Instance, CatchUpCompleted.Instance,
                e => new CatchUpFailed(e)), Context.Materializer());
        BecomeStacked(CatchingUp);
    }

    private void CatchingUp()
    {
        Command<CatchUpStarted>(_ => Sender.Tell(CatchUpAck.Instance));
        Command<EventEnvelope>(envelope =>
        {
            if (envelope.Event is IIngestEvent e && envelope.SequenceNr > _done)
            {
                Process(envelope.SequenceNr, e);
            }

            Sender.Tell(CatchUpAck.Instance);
        });
        Command<CatchUpCompleted>(_ =>
        {
            UnbecomeStacked();
            BecomeLive();
        });
        Command<CatchUpFailed>(f => throw new InvalidOperationException($"Sink '{_sink.Id}' could not read the journal.", f.Cause));
        Command<LiveEvent>(_ => Stash.Stash());
        Command<SaveWatermark>(_ => PersistWatermarkIfBehind());
        Command<FlushNow>(_ => Flush());
        CommandAny(_ => Stash.Stash());
    }

    private void BecomeLive()
    {
        Become(Live);
        Stash.UnstashAll();
    }

    private void Live()
    {
        Command<LiveEvent>(live =>
        {
            _ungranted++;
            if (live.SequenceNr <= _done)
            {
                GrantIfDue();
                return; // already delivered by a catch-up
            }

            if (live.SequenceNr > _done + 1)
            {
                // A gap: the journal dropped offers while this sink was behind. Read the missing range, then go live.
                Subscribe();
                return;
            }

            Process(live.SequenceNr, live.Event);
            GrantIfDue();
        });
        Command<LiveSubscribed>(_ => { });
        Command<SaveWatermark>(_ =>
        {
            PersistWatermarkIfBehind();
            if (_done == _doneAtLastTick)
            {
                // Idle for a tick: check that nothing was committed without reaching us (a journal that restarted
                // has forgotten its subscribers).
                _journal.Tell(GetHighestSequenceNr.Instance);
            }

            _doneAtLastTick = _done;
        });
        Command<long>(highest =>
        {
            if (highest > _done && _done == _doneAtLastTick)
            {
                Subscribe();
            }
        });
        Command<FlushNow>(_ => Flush());
    }

    private void GrantIfDue()
    {
        if (_ungranted >= LiveWindow / 2)
        {
            _journal.Tell(new GrantDemand(_ungranted));
            _ungranted = 0;
        }
    }

    private void Process(long seq, IIngestEvent journaled)
    {
        DeliveryOutcome outcome = _target!.Deliver(seq, journaled);
        if (outcome == DeliveryOutcome.Quarantined)
        {
            _log.Warning("Sink {0}: message at sequence {1} quarantined", _sink.Id, seq);
        }

        StreamEngineTelemetry.SinkOutcomes.Add(1, _sinkTag, new("outcome", outcome.ToString()));
        _done = seq;
        if (!_flushScheduled)
        {
            // Flush once whatever is already in the mailbox has been written: one flush (and fsync) per batch.
            _flushScheduled = true;
            Self.Tell(FlushNow.Instance);
        }
    }

    private void Flush()
    {
        _flushScheduled = false;
        if (_target is null)
        {
            return;
        }

        _target.Flush(_durable);
        if (_done - _persisted >= WatermarkEvery)
        {
            PersistWatermark();
        }
    }

    private void PersistWatermarkIfBehind()
    {
        if (_done > _persisted && !_flushScheduled)
        {
            PersistWatermark();
        }
    }

    private void PersistWatermark()
    {
        // The target was flushed up to _done before this point: the watermark never runs ahead of the output.
        _persisted = _done;
        PersistAsync(new WatermarkAdvanced(_done), _ => { });
    }

    private void Announce()
    {
        if (!_announced)
        {
            _announced = true;
            _readyTo?.Tell(new SinkReady(_sink.Id, _listener.Id));
        }
    }

    private sealed record SaveWatermark
    {
        public static SaveWatermark Instance { get; } = new();
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
}
