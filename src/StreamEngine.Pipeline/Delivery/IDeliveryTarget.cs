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

/// <summary>
/// An outcome, with the coded reason when quarantined or filtered for a recorded reason (codes and positions only,
/// never content).
/// </summary>
public readonly record struct DeliveryResult(DeliveryOutcome Outcome, string? Reason = null)
{
    /// <summary>The mapping's warnings (a value left out or kept plain) of a delivered message; null when none.</summary>
    public IReadOnlyList<StreamEngine.Fhir.MappingIssue>? Warnings { get; init; }

    /// <summary>Delivered.</summary>
    public static DeliveryResult Delivered { get; } = new(DeliveryOutcome.Delivered);

    /// <summary>Delivered, the mapping having warned (e.g. <c>MrnAuthorityNotFound@PID-3</c>): a value left out or kept plain.</summary>
    public static DeliveryResult DeliveredWith(IReadOnlyList<StreamEngine.Fhir.MappingIssue> warnings) => new(DeliveryOutcome.Delivered) { Warnings = warnings };

    /// <summary>Filtered.</summary>
    public static DeliveryResult Filtered { get; } = new(DeliveryOutcome.Filtered);

    /// <summary>Filtered for a recorded reason (e.g. the national data opt-out): counted and audited, never with content.</summary>
    public static DeliveryResult FilteredBecause(string reason) => new(DeliveryOutcome.Filtered, reason);

    /// <summary>Quarantined for a reason.</summary>
    public static DeliveryResult Quarantine(string reason) => new(DeliveryOutcome.Quarantined, reason);
}

/// <summary>
/// A delivery worked out on a lane, waiting to be committed by the sink actor: the outcome, and for a target that
/// writes on the actor (a file line, an onward MLLP message), the bytes to write.
/// </summary>
public readonly record struct PreparedDelivery(long SequenceNr, DeliveryResult Result, ReadOnlyMemory<byte> Payload = default);

/// <summary>
/// A sink's output, driven by its <see cref="SinkActor"/>. Each message goes in two steps: <see cref="PrepareAsync"/>
/// on a lane (a thread-pool thread, concurrently with other patients' messages; one patient's messages never overlap),
/// then <see cref="Commit"/> on the actor, one at a time. Whatever has a position (a line in a file) is written in
/// <see cref="Commit"/> only, so the position recorded with a watermark covers exactly the messages it counts as done;
/// a target without a position (a FHIR server, an MLLP receiver) may deliver in <see cref="PrepareAsync"/>. Delivery
/// must be idempotent: after a crash the actor re-sends everything its last persisted watermark does not count as done
/// and that <see cref="Open"/> does not report as already written (in any order across patients).
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

    /// <summary>
    /// How many ready messages (all of different patients) one lane may prepare in a row. More than one suits a target
    /// whose preparation is computation only: fewer hand-offs between threads per message. A target that delivers in
    /// <see cref="PrepareAsync"/> keeps 1, so one slow delivery never holds up another patient.
    /// </summary>
    int LaneBatch => 1;

    /// <summary>
    /// True for a target whose <see cref="PrepareAsync"/> is computation on the message alone (no delivery, nothing that
    /// an earlier message changes): a replay may then prepare one patient's messages at once, on several lanes, and
    /// commit them in journal order. A stream of one patient (or of unkeyed messages) is then not replayed one message at
    /// a time.
    /// </summary>
    bool PreparesAhead => false;

    /// <summary>
    /// True for a target that cannot be asked what it already holds (a FHIR server, an MLLP receiver): each delivery is
    /// recorded (a watermark counting it persisted) before the same patient's next message goes, so that a restart
    /// re-sends at most each patient's last delivered message (the same state again, never an older one after a newer
    /// one). A file reports what it holds at <see cref="Open"/> instead, and records in batches.
    /// </summary>
    bool RecordsEachDelivery => false;

    /// <summary>
    /// True for a target whose <see cref="Commit"/> is the delivery itself (an onward MLLP send, waiting for the ACK):
    /// once the engine is stopping, nothing new is committed to it, so that a stop never starts a send it would then
    /// have to give up.
    /// </summary>
    bool DeliversOnCommit => false;

    /// <summary>
    /// Works one event out, thread-safely (mapping, policy; the delivery itself for a target without a position). The task
    /// fails only for failures that a retry may cure (I/O, a server down).
    /// </summary>
    /// <param name="cancellationToken">Cancelled when the sink stops: a delivery still in flight must not land later.</param>
    Task<PreparedDelivery> PrepareAsync(long sequenceNr, IIngestEvent journaled, CancellationToken cancellationToken);

    /// <summary>
    /// Writes a prepared delivery, on the sink actor; throws only for failures a retry may cure, or
    /// <see cref="OperationCanceledException"/> when the engine stops while a receiver still holds the delivery (the
    /// message is then not delivered: it goes again when the engine next starts).
    /// </summary>
    DeliveryResult Commit(in PreparedDelivery prepared);

    /// <summary>What delivering an event would do, without writing anything (trace, recount after a crash).</summary>
    DeliveryResult Classify(IIngestEvent journaled);

    /// <summary>Makes delivered output visible (and, with <paramref name="durable"/>, safe from power loss).</summary>
    void Flush(bool durable);
}

/// <summary>One-step delivery, for the paths that deliver one message at a time (quarantine release, tests).</summary>
public static class DeliveryTargetExtensions
{
    /// <summary>Prepares and commits one event on the calling thread.</summary>
    public static DeliveryResult Deliver(this IDeliveryTarget target, long sequenceNr, IIngestEvent journaled) =>
        target.Commit(target.PrepareAsync(sequenceNr, journaled, CancellationToken.None).GetAwaiter().GetResult());
}
