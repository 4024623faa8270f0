namespace StreamEngine.Pipeline.Index;

/// <summary>
/// One journaled message as the index knows it: its routing fields, its dedupe hashes and the keyed hash of its
/// patient. No payload, no identifier in clear. ToString prints the stream and sequence only.
/// </summary>
public sealed record MessageIndexEntry(
    string Stream,
    long SequenceNr,
    long KeyHash,
    long ContentHash,
    string SendingApplication,
    string SendingFacility,
    string ControlId,
    string MessageType,
    string MessageTime,
    string PatientKeyHash,
    DateTimeOffset ReceivedAt)
{
    /// <summary>Keyed hash of the patient a merge (MRG-1) retires, so a trace by the retired MRN finds the merge; empty otherwise.</summary>
    public string PriorPatientKeyHash { get; init; } = string.Empty;

    private const string RejectedPrefix = "rejected:";

    /// <summary>
    /// For a frame rejected at ingest (journaled for quarantine and answered AR), its coded reason; null for a message.
    /// Such an entry has only the control id a loose scan of its MSH found, and dedupe hashes of its whole content
    /// (0 in entries written before rejected frames were deduplicated).
    /// </summary>
    public string? RejectedReason => MessageType.StartsWith(RejectedPrefix, StringComparison.Ordinal) ? MessageType[RejectedPrefix.Length..] : null;

    /// <summary>The entry of a rejected frame: findable by its control id (if its MSH gave one), deduplicated by its content.</summary>
    public static MessageIndexEntry Rejected(string stream, long sequenceNr, string? controlId, string reason, DateTimeOffset receivedAt, long keyHash = 0, long contentHash = 0) =>
        new(stream, sequenceNr, keyHash, contentHash, string.Empty, string.Empty, controlId ?? string.Empty, RejectedPrefix + reason, string.Empty, string.Empty, receivedAt);

    /// <inheritdoc />
    public override string ToString() => $"MessageIndexEntry({Stream}#{SequenceNr})";
}

/// <summary>The dedupe state of one stream as stored: the keys in the window, and how far the index reaches.</summary>
public sealed record IndexedKeys(long HighWaterMark, IReadOnlyList<(long KeyHash, long ContentHash, long SequenceNr, DateTimeOffset ReceivedAt)> Keys);

/// <summary>What <see cref="IMessageIndex.FindAsync"/> looks for; null fields match anything.</summary>
public sealed record MessageQuery
{
    /// <summary>The stream (an ingest persistence id), or null for all.</summary>
    public string? Stream { get; init; }

    /// <summary>MSH-10.</summary>
    public string? ControlId { get; init; }

    /// <summary>Keyed hash of the patient key (a merge is found by the retired patient's too).</summary>
    public string? PatientKeyHash { get; init; }

    /// <summary>Received at or after.</summary>
    public DateTimeOffset? Since { get; init; }

    /// <summary>At most this many, newest last.</summary>
    public int Limit { get; init; } = 1000;
}

/// <summary>
/// The message index beside the journal: the dedupe keys of the window, kept across restarts, and the lookup behind
/// <c>trace</c>. It can lag the journal (it is written after the commit, off the ACK path): the ingest journal
/// brings it up to date on recovery from the journal events past its high-water mark.
/// </summary>
public interface IMessageIndex
{
    /// <summary>Creates the tables if needed.</summary>
    Task InitializeAsync(CancellationToken cancellationToken = default);

    /// <summary>The newest keys of a stream received since a moment, at most <paramref name="maxKeys"/> (rejected frames have none).</summary>
    Task<IndexedKeys> LoadAsync(string stream, DateTimeOffset since, int maxKeys, CancellationToken cancellationToken = default);

    /// <summary>Adds entries (ignoring ones already there) and raises the stream's high-water mark, in one transaction.</summary>
    Task AddAsync(string stream, IReadOnlyList<MessageIndexEntry> entries, CancellationToken cancellationToken = default);

    /// <summary>Removes a stream's entries older than a moment and all but the newest <paramref name="keep"/>.</summary>
    Task<int> PruneAsync(string stream, DateTimeOffset olderThan, int keep, CancellationToken cancellationToken = default);

    /// <summary>Entries matching a query, in stream and sequence order.</summary>
    Task<IReadOnlyList<MessageIndexEntry>> FindAsync(MessageQuery query, CancellationToken cancellationToken = default);

    /// <summary>
    /// The fingerprint of the patient-key HMAC key the journal beside this index is keyed with (never the key): the one
    /// recorded, or, when none is yet, <paramref name="proposed"/>, recorded now (the first engine to record one wins).
    /// With no proposal it only reads (null when none is recorded). An index that does not outlive the engine records
    /// nothing and answers the proposal.
    /// </summary>
    Task<string?> PatientKeyFingerprintAsync(string? proposed, CancellationToken cancellationToken = default) => Task.FromResult(proposed);
}
