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

/// <summary>Takes a stream's dedupe keys as the index reads them (the window being loaded at a start).</summary>
public interface IKeySink
{
    /// <summary>About this many keys follow (said once, before the first: for sizing).</summary>
    void Expect(int keys);

    /// <summary>The next key, oldest first.</summary>
    void Add(long keyHash, long contentHash, long sequenceNr, DateTimeOffset receivedAt);
}

/// <summary>
/// Reads the rows of the window's load at a start through a provider's own interface, where that is much cheaper than
/// ADO.NET's reader (SQLite: ADO.NET checks each value's type and takes the statement's handle twice per column read,
/// ~0.5 s of a million-key start).
/// </summary>
public interface IIndexRowReader
{
    /// <summary>
    /// Runs <paramref name="sql"/> on the connection, its parameters <c>@stream</c> (text) and <c>@since</c> (integer),
    /// and gives each row's first four columns (integers) to <paramref name="row"/>; false, having given none, when it
    /// cannot read this connection (the caller then reads with ADO.NET).
    /// </summary>
    bool TryRead(System.Data.Common.DbConnection connection, string sql, string stream, long since, Action<long, long, long, long> row);
}

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

    /// <summary>
    /// Gives the keys of a stream received since a moment (rejected frames have none), oldest first, to
    /// <paramref name="keys"/>: all the index holds, which can be more than the window keeps until the next prune (the
    /// sink keeps the newest); none when it is null. Returns how far the index reaches (its high-water mark).
    /// </summary>
    Task<long> LoadAsync(string stream, DateTimeOffset since, IKeySink? keys, CancellationToken cancellationToken = default);

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
