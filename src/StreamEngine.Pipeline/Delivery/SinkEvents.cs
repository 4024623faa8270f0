using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.Pipeline.Delivery;

/// <summary>An event in a sink's own journal. Serialized by <see cref="IngestEventSerializer"/>.</summary>
public interface ISinkEvent;

/// <summary>
/// A sink's persisted progress: every sequence number up to and including <see cref="SequenceNr"/> is done (delivered,
/// filtered, quarantined or parked), and so is every number in <see cref="SettledAbove"/> (lanes finish out of order),
/// with the running counts of each since the sink's <see cref="Origin"/> (the journal position it started after),
/// which make the conservation law checkable: received = delivered + filtered + quarantined + parked + in flight.
/// </summary>
/// <param name="OutputPosition">Where the output stood (flushed) at this watermark: lines past it are checked on restart.</param>
public sealed record WatermarkAdvanced(long SequenceNr, long Origin = 0, SinkCounts? Counts = null, long OutputPosition = 0) : ISinkEvent
{
    /// <summary>Sequence numbers above the low mark already done, as ranges in ascending order.</summary>
    public IReadOnlyList<SequenceRange> SettledAbove { get; init; } = [];
}

/// <summary>An inclusive range of journal sequence numbers.</summary>
public readonly record struct SequenceRange(long From, long To)
{
    /// <summary>The ranges a sorted set of sequence numbers consists of.</summary>
    public static IReadOnlyList<SequenceRange> Of(SortedSet<long> sequenceNrs)
    {
        if (sequenceNrs.Count == 0)
        {
            return [];
        }

        var ranges = new List<SequenceRange>();
        long from = -1, to = -1;
        foreach (long seq in sequenceNrs)
        {
            if (from < 0)
            {
                from = to = seq;
            }
            else if (seq == to + 1)
            {
                to = seq;
            }
            else
            {
                ranges.Add(new SequenceRange(from, to));
                from = to = seq;
            }
        }

        ranges.Add(new SequenceRange(from, to));
        return ranges;
    }
}

/// <summary>What a sink has done with the messages since its origin.</summary>
public sealed record SinkCounts(long Delivered, long Filtered, long Quarantined, long Parked)
{
    /// <summary>No messages yet.</summary>
    public static SinkCounts Zero { get; } = new(0, 0, 0, 0);

    /// <summary>All of them.</summary>
    public long Total => Delivered + Filtered + Quarantined + Parked;
}

/// <summary>
/// A message that retrying cannot deliver (a mapping error, a permanent refusal), set aside with its coded reason and
/// its own copy of the message, so neither the watermark nor retention is held by it. Its patient keys are blocked at
/// this sink until an operator retries or skips it.
/// </summary>
public sealed record MessageQuarantined(long SequenceNr, string Reason, IReadOnlyList<string> PatientKeys, IIngestEvent Message, DateTimeOffset At) : ISinkEvent
{
    /// <inheritdoc />
    public override string ToString() => $"MessageQuarantined({SequenceNr}, {Reason})";
}

/// <summary>A message of a blocked patient, held (with its own copy) behind the quarantined one in order.</summary>
public sealed record MessageParked(long SequenceNr, long BehindSequenceNr, IIngestEvent Message) : ISinkEvent
{
    /// <inheritdoc />
    public override string ToString() => $"MessageParked({SequenceNr} behind {BehindSequenceNr})";
}

/// <summary>
/// An operator's decision on a quarantined message, the audit record: retried (and delivered) or skipped with a
/// reason; either way the messages parked behind it have been delivered in order.
/// </summary>
public sealed record QuarantineResolved(long SequenceNr, string Action, string Note, DateTimeOffset At) : ISinkEvent
{
    /// <summary>The action of an operator's skip (as journaled).</summary>
    public const string Skipped = "skipped";

    /// <summary>The action of a retry that delivered the message (as journaled).</summary>
    public const string Retried = "retried";

    /// <summary>True when an operator skipped the message: it is settled, never delivered, replays included.</summary>
    public bool IsSkip => Action == Skipped;
}

/// <summary>
/// A release of a quarantined message under way: the message itself is settled (<see cref="Action"/> as in
/// <see cref="QuarantineResolved"/>), and what was parked behind it is going out oldest first, each delivery recorded by
/// a <see cref="ParkedReleased"/>: on a sink that records each delivery (a FHIR server, onward MLLP) before the next is
/// sent, on a file sink a step of lines at a time. The patients stay blocked until the <see cref="QuarantineResolved"/>
/// that ends it; a restart carries the release on.
/// </summary>
public sealed record QuarantineReleasing(long SequenceNr, string Action, string Note, DateTimeOffset At) : ISinkEvent;

/// <summary>A message parked behind <see cref="BehindSequenceNr"/> delivered (or filtered) by its release.</summary>
public sealed record ParkedReleased(long SequenceNr, long BehindSequenceNr) : ISinkEvent;

/// <summary>
/// A replay began delivering (dry runs and <c>--failed-only</c> are not journaled): until its <see cref="ReplayEnded"/>,
/// a restart (a crash, kill -9, the sink failing) runs it again, since a replay cut short leaves a server with some
/// patients' older messages applied last. The request's fields, so that it can be run again as it was asked.
/// </summary>
public sealed record ReplayStarted(string ReplayId, long? FromSequenceNr, DateTimeOffset? Since, string? MessageType, double? Rate) : ISinkEvent;

/// <summary>The replay <see cref="ReplayId"/> ran to its end (or stopped on an error it reported): nothing to resume.</summary>
public sealed record ReplayEnded(string ReplayId) : ISinkEvent;

/// <summary>
/// A sink's state at one point of its journal: the watermark with its counts, the open quarantine with what is
/// parked behind it (their copies of the messages included), and the audit of every retry and skip. Recovery starts from it; the events before it are deleted.
/// </summary>
public sealed record SinkSnapshot(WatermarkAdvanced Watermark, IReadOnlyList<MessageQuarantined> Quarantined, IReadOnlyList<MessageParked> Parked,
    IReadOnlyList<QuarantineResolved> Resolved) : ISinkEvent
{
    /// <summary>A replay under way when the snapshot was taken (resumed on recovery), if any.</summary>
    public ReplayStarted? Replaying { get; init; }

    /// <summary>Releases under way (their parked messages partly delivered), carried on after recovery.</summary>
    public IReadOnlyList<QuarantineReleasing> Releasing { get; init; } = [];
}
