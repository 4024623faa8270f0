using StreamEngine.Pipeline.Delivery;

namespace StreamEngine.Pipeline.Admin;

// What the admin endpoint asks the engine, and the answers. Nothing here carries message content, except the raw
// message of QuarantineDetail, which an operator asks for explicitly (quarantine show --raw).

/// <summary>Asks every sink for its status; answered with <see cref="EngineStatus"/>.</summary>
public sealed record GetStatus
{
    /// <summary>The message.</summary>
    public static GetStatus Instance { get; } = new();
}

/// <summary>The engine's status.</summary>
public sealed record EngineStatus(IReadOnlyList<StreamStatus> Streams, IReadOnlyList<SinkStatus> Sinks);

/// <summary>One listener's stream: the highest sequence number journaled.</summary>
public sealed record StreamStatus(string ListenerId, string Stream, long Journaled)
{
    /// <summary>
    /// <c>running</c>; <c>restarting</c> (between a failure and its restart) or <c>not answering</c> (busy): then
    /// <see cref="Journaled"/> is what it last said.
    /// </summary>
    public string State { get; init; } = "running";

    /// <summary>Resends answered again without a new event (dedupe), since the engine started; null when read offline.</summary>
    public long? ResendsAnswered { get; init; }

    /// <summary>Control ids reused with different content (journaled as new), since the engine started; null offline.</summary>
    public long? ControlIdReuses { get; init; }
}

/// <summary>
/// One sink on one stream. Conservation: <c>Received = Delivered + Filtered + Quarantined + Parked + InFlight</c>,
/// counted from <see cref="Origin"/>, the journal position the sink started after.
/// </summary>
public sealed record SinkStatus(string SinkId, string ListenerId, string Stream, string State, long Watermark, long Origin, SinkCounts Counts,
    int OpenQuarantine)
{
    /// <summary>The watermark as persisted (what survives a crash); retention never deletes past it.</summary>
    public long Persisted { get; init; }

    /// <summary>Messages above <see cref="Persisted"/> already recorded as done in the persisted watermark (lanes finish out of order).</summary>
    public long PersistedAbove { get; init; }

    /// <summary>Messages journaled since the sink's origin (set by the engine, which knows the journal).</summary>
    public long Received { get; init; }

    /// <summary>Received and not yet settled either way.</summary>
    public long InFlight => Received - Counts.Total;

    /// <summary>How many messages of different patients the sink works on at once.</summary>
    public int Lanes { get; init; }

    /// <summary>Messages in the sink's lanes now (waiting behind their patient's earlier ones, or running).</summary>
    public int InLanes { get; init; }

    /// <summary>False when the sink has not answered since the engine started (restarting or busy): no counts to show.</summary>
    public bool CountsKnown { get; init; } = true;
}

/// <summary>Asks a sink for its own part of the status.</summary>
public sealed record GetSinkStatus
{
    /// <summary>The message.</summary>
    public static GetSinkStatus Instance { get; } = new();
}

/// <summary>Lists the open quarantine of every sink (or one).</summary>
public sealed record ListQuarantine(string? SinkId = null);

/// <summary>One quarantined message: its id is <c>{sink}/{listener}/{sequence}</c>.</summary>
public sealed record QuarantineItem(string Id, string SinkId, string ListenerId, long SequenceNr, string Reason, string MessageType,
    string ControlId, DateTimeOffset At, int Parked)
{
    /// <summary>
    /// Set while a release is under way (<c>retried</c> or <c>skipped</c>): the message itself is settled and what is
    /// parked behind it is going out; the entry closes once the last has.
    /// </summary>
    public string? Releasing { get; init; }
}

/// <summary>The open quarantine.</summary>
public sealed record QuarantineList(IReadOnlyList<QuarantineItem> Items)
{
    /// <summary>Sinks (<c>sink/listener (state)</c>) restarting after a failure or not answering, whose quarantine is not in the list.</summary>
    public IReadOnlyList<string> Unavailable { get; init; } = [];
}

/// <summary>Details of one quarantined message (<see cref="Raw"/> only when asked for).</summary>
public sealed record QuarantineDetail(QuarantineItem Item, IReadOnlyList<long> ParkedSequenceNrs, string? Raw);

/// <summary>Acts on one quarantined message, by id.</summary>
public abstract record QuarantineCommand(string Id)
{
    /// <summary>The sequence number part of the id.</summary>
    public long SequenceNr => long.Parse(Id[(Id.LastIndexOf('/') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Show it.</summary>
public sealed record ShowQuarantined(string Id, bool Raw) : QuarantineCommand(Id);

/// <summary>Deliver it again (after a configuration fix); then what was parked behind it, in order.</summary>
public sealed record RetryQuarantined(string Id) : QuarantineCommand(Id);

/// <summary>Give it up, recording why; then deliver what was parked behind it, in order.</summary>
public sealed record SkipQuarantined(string Id, string Reason) : QuarantineCommand(Id);

/// <summary>The answer to a quarantine command.</summary>
public sealed record QuarantineActionResult(bool Ok, string Message, int Released = 0);

/// <summary>Where each of these journal positions is at a sink; answered with <see cref="TraceAnswer"/>.</summary>
public sealed record TraceRequest(IReadOnlyList<long> SequenceNrs);

/// <summary>Per position: <c>delivered</c>, <c>filtered</c>, <c>quarantined: reason</c>, <c>parked behind N</c>, <c>pending</c>.</summary>
public sealed record TraceAnswer(string SinkId, string ListenerId, IReadOnlyDictionary<long, string> Outcomes);

/// <summary>
/// A replay of one sink's stream: every patient with a message matching the filters from the start point on has all
/// of their messages from there to the present delivered again, in order, to a file of the replay's own.
/// </summary>
public sealed record ReplayRequest(string ReplayId, long? FromSequenceNr, DateTimeOffset? Since, string? MessageType, bool FailedOnly,
    double? Rate, bool DryRun);

/// <summary>What a replay did (or, dry, would do).</summary>
public sealed record ReplayResult(string ReplayId, string SinkId, string ListenerId, long Matched, long Messages, long Delivered, long Filtered,
    long Failed, bool DryRun, string? Output)
{
    /// <summary>How long the replay took inside the engine (both passes over the journal, delivery included).</summary>
    public double Seconds { get; init; }

    /// <summary>Of the failed, those not delivered because an earlier message of the same patient failed in this replay.</summary>
    public long HeldBehind { get; init; }

    /// <summary>Why the replay did not run or stopped part-way (another replay running, the journal unreadable); null when it ran.</summary>
    public string? Error { get; init; }

    /// <summary>
    /// Set when the replay asked for messages that retention had already deleted from the journal: the first sequence
    /// number still held in the range asked for (the replay began there). Null when the journal held the whole range.
    /// </summary>
    public long? RetainedFrom { get; init; }

    /// <summary>When the message at <see cref="RetainedFrom"/> was received, if it is a message.</summary>
    public DateTimeOffset? RetainedSince { get; init; }
}

/// <summary>Finds messages by control id (MSH-10) or MRN (matched through its keyed hash), optionally since a moment.</summary>
public sealed record TraceLookup(string? ControlId, string? Mrn, DateTimeOffset? Since, int Limit = 100);

/// <summary>One traced message: where it came from, where it is in the journal, and what each sink did with it.</summary>
public sealed record TracedMessage(Index.MessageIndexEntry Message, IReadOnlyDictionary<string, string> Sinks);

/// <summary>The answer to <see cref="TraceLookup"/>.</summary>
public sealed record TraceResult(IReadOnlyList<TracedMessage> Messages);

/// <summary>A replay for one sink, on one stream or all of them.</summary>
public sealed record ReplayCommand(string SinkId, string? ListenerId, ReplayRequest Request);

/// <summary>Each stream's replay result.</summary>
public sealed record ReplayResults(IReadOnlyList<ReplayResult> Results);
