namespace StreamEngine.Pipeline.Ingest;

/// <summary>
/// Asks the journal to persist an event; answered with <see cref="Journaled"/> once committed, or, when
/// <paramref name="OnCommitted"/> is given, by calling it from the persist callback instead (no message back to the
/// sender). A failure is always answered with <see cref="AppendFailed"/> to the sender.
/// </summary>
public sealed record Append(long CorrelationId, IIngestEvent Event, ICommitAnswer? OnCommitted = null);

/// <summary>
/// A frame's answer that the journal gives itself the moment the frame's event is committed (or found to be a resend
/// of a committed one), from its persist callback: the connection's ACK goes out without a hop through the connection's
/// actor. Called on the journal's thread; it must be cheap and thread-safe.
/// </summary>
public interface ICommitAnswer
{
    /// <summary>The event is committed at <paramref name="sequenceNr"/>, or is a resend of the one committed there.</summary>
    void Committed(long sequenceNr, bool duplicate);
}

/// <summary>
/// The event of <see cref="Append"/> is committed at this sequence number, or (<paramref name="Duplicate"/>) it is a
/// resend of a message already committed there: the sender gets the same ACK again and nothing new is journaled.
/// </summary>
public sealed record Journaled(long CorrelationId, long SequenceNr, bool Duplicate = false);

/// <summary>The event of <see cref="Append"/> was not committed (rejected by the store).</summary>
public sealed record AppendFailed(long CorrelationId);

/// <summary>
/// A sink asks for live events. The journal answers <see cref="LiveSubscribed"/> with its highest committed
/// sequence number; every event committed after that is offered live while the subscriber has demand.
/// Subscribing again resets the demand.
/// </summary>
public sealed record SubscribeLive(Akka.Actor.IActorRef Subscriber, int Demand);

/// <summary>The answer to <see cref="SubscribeLive"/>.</summary>
public sealed record LiveSubscribed(long HighestSequenceNr);

/// <summary>A subscriber can take <paramref name="Count"/> more live events.</summary>
public sealed record GrantDemand(int Count);

/// <summary>
/// A live event. A subscriber that sees a gap in sequence numbers catches up from the journal. One sent to a sink
/// between its failure and its restart is expected (the restarted sink reads it from the journal): not a dead letter
/// worth a log line.
/// </summary>
public sealed record LiveEvent(long SequenceNr, IIngestEvent Event) : Akka.Event.IDeadLetterSuppression;

/// <summary>Asks for the highest committed sequence number.</summary>
public sealed record GetHighestSequenceNr
{
    /// <summary>The message.</summary>
    public static GetHighestSequenceNr Instance { get; } = new();
}

/// <summary>Asks for <see cref="IngestCounts"/>.</summary>
public sealed record GetIngestCounts
{
    /// <summary>The message.</summary>
    public static GetIngestCounts Instance { get; } = new();
}

/// <summary>
/// A stream's highest committed sequence number, and since the engine started: the resends answered again without a
/// new event (dedupe) and the control ids reused with different content (journaled as new).
/// </summary>
public sealed record IngestCounts(long HighestSequenceNr, long ResendsAnswered, long ControlIdReuses);

/// <summary>Retention: delete the journal's events up to and including this sequence number (never the highest).</summary>
public sealed record DeleteUpTo(long SequenceNr);
