namespace StreamEngine.Hl7v2;

/// <summary>What went wrong in a message. Codes are stable: configuration and tests refer to them.</summary>
public enum Hl7IssueCode
{
    /// <summary>The input holds no segment at all.</summary>
    Empty = 1,

    /// <summary>The first segment is not MSH (nor FHS/BHS for a batch), or MSH is too short to be read.</summary>
    BadMsh = 2,

    /// <summary>MSH-1/MSH-2 do not declare usable, distinct encoding characters.</summary>
    BadDelimiters = 3,

    /// <summary>A segment whose identifier is not three letters or digits (for example a truncated line).</summary>
    BadSegmentId = 4,

    /// <summary>A segment longer than the configured limit.</summary>
    SegmentTooLong = 5,

    /// <summary>An escape sequence that is not closed or not known.</summary>
    InvalidEscape = 6,

    /// <summary>Bytes that fit neither the declared character set nor the fallback.</summary>
    BadCharset = 7,

    /// <summary>MSH-9 (message type) is empty.</summary>
    MissingMessageType = 8,

    /// <summary>MSH-10 (message control id) is empty.</summary>
    MissingControlId = 9,

    /// <summary>MSH-12 (version) is empty or not a known HL7 v2 version.</summary>
    UnknownVersion = 10,

    /// <summary>A batch whose BTS/FTS counts disagree with what it holds, or whose trailer is missing.</summary>
    BadBatch = 11,

    /// <summary>More segments than the configured limit.</summary>
    TooManySegments = 12,

    /// <summary>The input holds a NUL or other control byte (below 0x09).</summary>
    ControlCharacter = 13,

    /// <summary>MSH-2 repeated its escape character (<c>^~\&amp;</c>); read as <c>^~\&amp;</c>. A warning.</summary>
    DuplicatedEncodingCharacter = 14,

    /// <summary>
    /// The last segment has no terminator. A warning: files often end that way, but in an MLLP frame it can mean the
    /// sender cut the message short.
    /// </summary>
    Unterminated = 15,

    /// <summary>A second MSH inside one message: two messages in one frame. An error: only one could be acknowledged.</summary>
    MultipleMessages = 16,

    /// <summary>MSH-15/MSH-16 hold a value outside table 0155 (AL, NE, ER, SU); read as AL. A warning.</summary>
    UnknownAcknowledgmentType = 17,
}

/// <summary>
/// A coded problem with a position. Never carries message content: only the code, the 1-based segment
/// number and the field number (0 when the issue concerns the whole segment or message).
/// </summary>
public readonly record struct Hl7Issue(Hl7IssueCode Code, int Segment, int Field)
{
    /// <summary>Errors make a message unusable; warnings are reported but the message is accepted.</summary>
    public bool IsError => Code is Hl7IssueCode.Empty or Hl7IssueCode.BadMsh or Hl7IssueCode.BadDelimiters
        or Hl7IssueCode.MissingMessageType or Hl7IssueCode.TooManySegments or Hl7IssueCode.SegmentTooLong
        or Hl7IssueCode.MultipleMessages;

    /// <inheritdoc />
    public override string ToString() => Field > 0 ? $"{Code}@{Segment}:{Field}" : $"{Code}@{Segment}";
}
