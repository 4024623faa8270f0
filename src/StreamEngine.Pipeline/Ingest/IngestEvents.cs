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
    string messageTime) : IIngestEvent
{
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

    /// <summary>The coded reason (an <see cref="Hl7v2.Hl7IssueCode"/> name).</summary>
    public string Reason { get; } = reason;

    /// <inheritdoc />
    public override string ToString() => $"FrameRejected({Reason}, {Raw.Length} bytes)";
}
