using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using StreamEngine.Diagnostics;

namespace StreamEngine.Pipeline.Ingest;

/// <summary>
/// The source of truth for one stream: frames are persisted here before they are acknowledged. Uses
/// <c>PersistAsync</c>, so commands are not stashed while a write is in flight: frames from all connections
/// accumulate in the journal batch and go in the next write (group commit), and the SQL journal commits each
/// batch in one transaction. Committed events are offered live to subscribed sinks, never waiting for them.
/// </summary>
public sealed class IngestJournal : ReceivePersistentActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<Subscription> _subscribers = [];

    // Appends in flight, by event identity, so a rejected write can be answered (events are distinct objects).
    private readonly Dictionary<IIngestEvent, (IActorRef ReplyTo, long CorrelationId)> _inFlight = new(ReferenceEqualityComparer.Instance);
    private readonly KeyValuePair<string, object?> _listenerTag;

    /// <summary>Creates the journal of one listener's stream.</summary>
    public IngestJournal(string persistenceId, string listenerId)
    {
        PersistenceId = persistenceId;
        _listenerTag = new("listener", listenerId);

        Recover<IIngestEvent>(_ => { });
        Recover<RecoveryCompleted>(_ => _log.Info("Ingest journal {0} recovered at sequence {1}", PersistenceId, LastSequenceNr));

        Command<Append>(OnAppend);
        Command<SubscribeLive>(OnSubscribe);
        Command<GrantDemand>(g =>
        {
            if (Find(Sender) is { } subscription)
            {
                subscription.Demand += g.Count;
            }
        });
        Command<Terminated>(t => _subscribers.RemoveAll(s => s.Subscriber.Equals(t.ActorRef)));
        Command<GetHighestSequenceNr>(_ => Sender.Tell(LastSequenceNr));
    }

    /// <inheritdoc />
    public override string PersistenceId { get; }

    /// <summary>Props for the journal.</summary>
    public static Props Props(string persistenceId, string listenerId) =>
        Akka.Actor.Props.Create(() => new IngestJournal(persistenceId, listenerId));

    private void OnAppend(Append append)
    {
        IActorRef replyTo = Sender;
        _inFlight[append.Event] = (replyTo, append.CorrelationId);
        PersistAsync(append.Event, e =>
        {
            _inFlight.Remove(e);
            long seq = LastSequenceNr;
            StreamEngineTelemetry.Journaled.Add(1, _listenerTag);
            replyTo.Tell(new Journaled(append.CorrelationId, seq));
            Publish(seq, e);
        });
    }

    private void OnSubscribe(SubscribeLive subscribe)
    {
        if (Find(subscribe.Subscriber) is { } existing)
        {
            existing.Demand = subscribe.Demand;
        }
        else
        {
            Context.Watch(subscribe.Subscriber);
            _subscribers.Add(new Subscription(subscribe.Subscriber) { Demand = subscribe.Demand });
        }

        subscribe.Subscriber.Tell(new LiveSubscribed(LastSequenceNr));
    }

    private void Publish(long seq, IIngestEvent e)
    {
        // Offer, never wait: a subscriber out of demand misses the event and catches up from the journal.
        LiveEvent? live = null;
        foreach (Subscription subscription in _subscribers)
        {
            if (subscription.Demand > 0)
            {
                subscription.Demand--;
                subscription.Subscriber.Tell(live ??= new LiveEvent(seq, e));
            }
        }
    }

    private Subscription? Find(IActorRef subscriber) => _subscribers.Find(s => s.Subscriber.Equals(subscriber));

    private sealed class Subscription(IActorRef subscriber)
    {
        public IActorRef Subscriber { get; } = subscriber;

        public int Demand { get; set; }
    }

    /// <inheritdoc />
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        // The store refused this event (e.g. serialization); the actor goes on and the connection answers AR (207).
        _log.Error("Ingest journal {0} rejected an event at sequence {1}: {2}", PersistenceId, sequenceNr, cause.GetType().Name);
        if (@event is IIngestEvent e && _inFlight.Remove(e, out var pending))
        {
            pending.ReplyTo.Tell(new AppendFailed(pending.CorrelationId));
        }
    }

    /// <inheritdoc />
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        // The store failed: the actor stops and its backoff supervisor restarts it, recovering from the journal.
        // Connections waiting on it answer AR (207) when their commit timeout passes.
        _log.Error("Ingest journal {0} failed to write at sequence {1}: {2}", PersistenceId, sequenceNr, cause.GetType().Name);
        base.OnPersistFailure(cause, @event, sequenceNr);
    }
}
