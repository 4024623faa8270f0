using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.Pipeline.Delivery;

/// <summary>What became of one journaled event at one sink.</summary>
public enum DeliveryOutcome
{
    /// <summary>Written to the sink.</summary>
    Delivered,

    /// <summary>Not for this sink (a type it does not take): counted, not lost.</summary>
    Filtered,

    /// <summary>Could not be delivered however often it is retried (a mapping error): kept aside with its reason.</summary>
    Quarantined,
}

/// <summary>An outcome, with the coded reason when quarantined (codes and positions only, never content).</summary>
public readonly record struct DeliveryResult(DeliveryOutcome Outcome, string? Reason = null)
{
    /// <summary>Delivered.</summary>
    public static DeliveryResult Delivered { get; } = new(DeliveryOutcome.Delivered);

    /// <summary>Filtered.</summary>
    public static DeliveryResult Filtered { get; } = new(DeliveryOutcome.Filtered);

    /// <summary>Filtered for a recorded reason (e.g. the national data opt-out): counted and audited, never with content.</summary>
    public static DeliveryResult FilteredBecause(string reason) => new(DeliveryOutcome.Filtered, reason);

    /// <summary>Quarantined for a reason.</summary>
    public static DeliveryResult Quarantine(string reason) => new(DeliveryOutcome.Quarantined, reason);
}

/// <summary>
/// A sink's output, driven by its <see cref="SinkActor"/> one event at a time, in journal order. Delivery must be
/// idempotent: after a crash the actor re-sends everything after the last persisted watermark that
/// <see cref="Open"/> does not report as already written (lines released from quarantine included, whatever their order).
/// </summary>
public interface IDeliveryTarget : IDisposable
{
    /// <summary>
    /// Opens the output and returns the sequence numbers it already holds for this stream past <paramref name="position"/>
    /// (a <see cref="Position"/> recorded with the last persisted watermark): written, but not yet recorded as done.
    /// </summary>
    IReadOnlySet<long> Open(long position);

    /// <summary>Where the output is now (bytes of a file; 0 for outputs that need no position).</summary>
    long Position { get; }

    /// <summary>Delivers one event. Throws only for failures that a retry may cure (I/O, a server down).</summary>
    DeliveryResult Deliver(long sequenceNr, IIngestEvent journaled);

    /// <summary>What <see cref="Deliver"/> would do with an event, without writing anything (trace, recount after a crash).</summary>
    DeliveryResult Classify(IIngestEvent journaled);

    /// <summary>Makes delivered output visible (and, with <paramref name="durable"/>, safe from power loss).</summary>
    void Flush(bool durable);
}
