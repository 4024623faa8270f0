namespace StreamEngine.Pipeline.Ingest;

/// <summary>An event in an ingest journal. Serialized by <see cref="IngestEventSerializer"/>.</summary>
public interface IIngestEvent
{
    /// <summary>The frame as received, byte for byte.</summary>
    ReadOnlyMemory<byte> Raw { get; }

    /// <summary>When the listener received it.</summary>
    DateTimeOffset ReceivedAt { get; }
}

/// <summary>
/// A message with a usable MSH, journaled before its ACK. Carries the MSH routing fields so that trace and
/// routing need not re-parse the payload. ToString never prints content.
/// </summary>
public sealed class MessageReceived(
    ReadOnlyMemory<byte> raw,
    DateTimeOffset receivedAt,
    string sendingApplication,
    string sendingFacility,
    string messageType,
    string controlId,
    string messageTime,
    long contentHash,
    string patientKeyHash = "",
    string priorPatientKeyHash = "") : IIngestEvent
{
    private long? _keyHash;

    /// <inheritdoc />
    public ReadOnlyMemory<byte> Raw { get; } = raw;

    /// <inheritdoc />
    public DateTimeOffset ReceivedAt { get; } = receivedAt;

    /// <summary>MSH-3.1.</summary>
    public string SendingApplication { get; } = sendingApplication;

    /// <summary>MSH-4.1.</summary>
    public string SendingFacility { get; } = sendingFacility;

    /// <summary>MSH-9 as sent.</summary>
    public string MessageType { get; } = messageType;

    /// <summary>MSH-10.</summary>
    public string ControlId { get; } = controlId;

    /// <summary>MSH-7 as sent.</summary>
    public string MessageTime { get; } = messageTime;

    /// <summary>Hash of the content for dedupe (<see cref="MessageFingerprint.ContentHash"/>).</summary>
    public long ContentHash { get; } = contentHash;

    /// <summary>Keyed hash of the patient key (<see cref="PatientKeyHasher"/>); empty when the message names none.</summary>
    public string PatientKeyHash { get; } = patientKeyHash;

    /// <summary>Keyed hash of the patient a merge retires (MRG-1); empty for other messages.</summary>
    public string PriorPatientKeyHash { get; } = priorPatientKeyHash;

    /// <summary>Hash of (MSH-3, MSH-4, MSH-10), the dedupe key.</summary>
    public long KeyHash => _keyHash ??= MessageFingerprint.KeyHash(SendingApplication, SendingFacility, ControlId);

    /// <inheritdoc />
    public override string ToString() => $"MessageReceived({Raw.Length} bytes)";
}

/// <summary>
/// A frame with no usable MSH: answered AR and kept here, raw, so nothing vanishes. Sinks pass it by; the
/// quarantine reads it.
/// </summary>
public sealed class FrameRejected(ReadOnlyMemory<byte> raw, DateTimeOffset receivedAt, string reason) : IIngestEvent
{
    /// <inheritdoc />
    public ReadOnlyMemory<byte> Raw { get; } = raw;

    /// <inheritdoc />
    public DateTimeOffset ReceivedAt { get; } = receivedAt;

    private long? _contentHash;
    private long? _keyHash;

    /// <summary>The coded reason (an <see cref="Hl7v2.Hl7IssueCode"/> name).</summary>
    public string Reason { get; } = reason;

    /// <summary>Hash of the frame for dedupe (<see cref="MessageFingerprint.ContentHash"/>): computed from the bytes, never stored.</summary>
    public long ContentHash => _contentHash ??= MessageFingerprint.ContentHash(Raw.Span);

    /// <summary>
    /// The dedupe key of a frame with no usable MSH: its content itself (<see cref="MessageFingerprint.RejectedKeyHash"/>),
    /// so a resend of the same frame is answered the same AR again instead of being journaled and quarantined once more.
    /// </summary>
    public long KeyHash => _keyHash ??= MessageFingerprint.RejectedKeyHash(ContentHash);

    /// <inheritdoc />
    public override string ToString() => $"FrameRejected({Reason}, {Raw.Length} bytes)";
}

/// <summary>
/// Snapshot of an ingest journal: recovery starts after it. <see cref="IndexedUpTo"/> is the message index's
/// high-water mark when it was taken; events between it and the snapshot are read from the journal again.
/// </summary>
public sealed record IngestSnapshot(long IndexedUpTo);
