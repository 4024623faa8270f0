using System.Globalization;
using System.Text;

namespace StreamEngine.Hl7v2;

/// <summary>What the receiver decided about a message, before it is expressed as an acknowledgment code.</summary>
public enum AckOutcome
{
    /// <summary>Durably accepted: AA (original mode) or CA (enhanced mode).</summary>
    Accepted,

    /// <summary>A content error the sender must not resend unchanged: AE / CE.</summary>
    Error,

    /// <summary>Rejected for a reason unrelated to content, or unreadable: AR / CR.</summary>
    Rejected,
}

/// <summary>HL7 table 0357 message error condition codes used in our NAKs.</summary>
public enum Hl7ErrorCode
{
    /// <summary>Segment sequence error.</summary>
    SegmentSequenceError = 100,

    /// <summary>Required field missing.</summary>
    RequiredFieldMissing = 101,

    /// <summary>Data type error.</summary>
    DataTypeError = 102,

    /// <summary>Table value not found.</summary>
    TableValueNotFound = 103,

    /// <summary>Unsupported message type.</summary>
    UnsupportedMessageType = 200,

    /// <summary>Unsupported event code.</summary>
    UnsupportedEventCode = 201,

    /// <summary>Unsupported processing id.</summary>
    UnsupportedProcessingId = 202,

    /// <summary>Unsupported version id.</summary>
    UnsupportedVersionId = 203,

    /// <summary>Application internal error: rejected for reasons unrelated to content (journal down, backlog full).</summary>
    ApplicationInternalError = 207,
}

/// <summary>An error to report in the ERR segment: a 0357 code and where, never message content.</summary>
public sealed record AckError(Hl7ErrorCode Code, string? Segment = null, int Sequence = 1, int Field = 0)
{
    /// <summary>The table 0357 description of the code.</summary>
    public string Text => Code switch
    {
        Hl7ErrorCode.SegmentSequenceError => "Segment sequence error",
        Hl7ErrorCode.RequiredFieldMissing => "Required field missing",
        Hl7ErrorCode.DataTypeError => "Data type error",
        Hl7ErrorCode.TableValueNotFound => "Table value not found",
        Hl7ErrorCode.UnsupportedMessageType => "Unsupported message type",
        Hl7ErrorCode.UnsupportedEventCode => "Unsupported event code",
        Hl7ErrorCode.UnsupportedProcessingId => "Unsupported processing id",
        Hl7ErrorCode.UnsupportedVersionId => "Unsupported version id",
        _ => "Application internal error",
    };

    /// <summary>The ERR to send for a message that could not be read at all.</summary>
    public static AckError From(IReadOnlyList<Hl7Issue> issues)
    {
        foreach (Hl7Issue issue in issues)
        {
            if (!issue.IsError)
            {
                continue;
            }

            return issue.Code switch
            {
                Hl7IssueCode.MissingMessageType => new AckError(Hl7ErrorCode.RequiredFieldMissing, "MSH", 1, 9),
                Hl7IssueCode.BadDelimiters => new AckError(Hl7ErrorCode.DataTypeError, "MSH", 1, 2),
                _ => new AckError(Hl7ErrorCode.SegmentSequenceError, "MSH", 1, 0),
            };
        }

        return new AckError(Hl7ErrorCode.SegmentSequenceError, "MSH", 1, 0);
    }
}

/// <summary>
/// Builds acknowledgments per the architecture's ACK table: original mode AA/AE/AR, enhanced mode CA/CE/CR per
/// MSH-15, MSA-2 = MSH-10, sender and receiver swapped, version echoed, an ERR shaped for the version.
/// </summary>
public sealed class Hl7AckBuilder
{
    private readonly string _prefix;
    private readonly byte[] _prefixBytes;
    private long _counter;

    /// <summary>Creates a builder whose control ids are unique within the process and across restarts.</summary>
    /// <param name="startedAt">Distinguishes this builder's ids from those of earlier runs.</param>
    public Hl7AckBuilder(DateTimeOffset startedAt)
    {
        _prefix = "SE" + startedAt.ToUnixTimeMilliseconds().ToString("x", CultureInfo.InvariantCulture);
        _prefixBytes = Encoding.ASCII.GetBytes(_prefix);
    }

    /// <summary>
    /// The acknowledgment code for an outcome, or null when the sender asked for none (enhanced mode, MSH-15 = NE,
    /// or ER on success). A message that could not be read gets AR: its mode cannot be trusted.
    /// </summary>
    public static string? Code(Hl7Message? original, AckOutcome outcome)
    {
        if (original is null || original.SegmentCount == 0)
        {
            return "AR";
        }

        Hl7Segment msh = original.Msh;
        ReadOnlySpan<byte> accept = msh.Field(15).Component(1).Span.Trim((byte)' ');
        bool enhanced = !accept.IsEmpty || !msh.Field(16).Component(1).Span.Trim((byte)' ').IsEmpty;
        if (!enhanced)
        {
            return outcome switch { AckOutcome.Accepted => "AA", AckOutcome.Error => "AE", _ => "AR" };
        }

        // A message that was not accepted is always answered, whatever MSH-15 asked: silence would lose it. Values
        // outside table 0155 are read as AL (and reported as an issue by the parser).
        bool wanted = outcome == AckOutcome.Rejected || !IsKnownAckType(accept) || Ascii.EqualsIgnoreCase(accept, "AL"u8)
            || (Ascii.EqualsIgnoreCase(accept, "SU"u8) && outcome == AckOutcome.Accepted)
            || (Ascii.EqualsIgnoreCase(accept, "ER"u8) && outcome != AckOutcome.Accepted);
        if (!wanted)
        {
            return null;
        }

        return outcome switch { AckOutcome.Accepted => "CA", AckOutcome.Error => "CE", _ => "CR" };
    }

    /// <summary>True for the table 0155 acknowledgment types (AL, NE, ER, SU), in any case.</summary>
    public static bool IsKnownAckType(ReadOnlySpan<byte> value) =>
        Ascii.EqualsIgnoreCase(value, "AL"u8) || Ascii.EqualsIgnoreCase(value, "NE"u8) || Ascii.EqualsIgnoreCase(value, "ER"u8)
        || Ascii.EqualsIgnoreCase(value, "SU"u8);

    /// <summary>
    /// Builds the acknowledgment message (without MLLP framing), segments ending in CR.
    /// </summary>
    /// <param name="original">The message acknowledged, or null when it could not be read.</param>
    /// <param name="code">AA, AE, AR, CA, CE or CR.</param>
    /// <param name="error">The ERR to include, or null.</param>
    /// <param name="controlId">MSA-2 when <paramref name="original"/> is null (from a loose scan), else ignored.</param>
    /// <param name="now">MSH-7 of the acknowledgment.</param>
    public byte[] Build(Hl7Message? original, string code, AckError? error, string? controlId, DateTimeOffset now)
    {
        if (error is null && original is not null && code.Length == 2)
        {
            return BuildAccept(original, code, now);
        }

        Delimiters d = original?.Delimiters ?? Delimiters.Default;
        var sb = new StringBuilder(256);
        char f = (char)d.Field;
        char c = (char)d.Component;
        string version = original?.Msh.Field(12).Component(1).RawText is { Length: > 0 } v ? v : "2.5";
        bool modernErr = IsAtLeast25(version);
        string trigger = original?.Msh.Field(9).Component(2).RawText ?? string.Empty;

        sb.Append("MSH").Append(f).Append(d.EncodingCharacters);
        AppendField(sb, f, original, 5); // sending application <- receiving application
        AppendField(sb, f, original, 6);
        AppendField(sb, f, original, 3);
        AppendField(sb, f, original, 4);
        sb.Append(f).Append(now.ToString("yyyyMMddHHmmsszzz", CultureInfo.InvariantCulture).Replace(":", string.Empty, StringComparison.Ordinal));
        sb.Append(f); // MSH-8 security
        sb.Append(f).Append("ACK");
        if (trigger.Length > 0)
        {
            sb.Append(c).Append(trigger);
            if (modernErr)
            {
                sb.Append(c).Append("ACK");
            }
        }

        sb.Append(f).Append(_prefix).Append('.').Append(Interlocked.Increment(ref _counter).ToString(CultureInfo.InvariantCulture));
        sb.Append(f);
        if (original is not null && !original.Msh.Field(11).IsEmpty)
        {
            sb.Append(original.Msh.Field(11).RawText);
        }
        else
        {
            sb.Append('P');
        }

        sb.Append(f).Append(original is null ? version : original.Msh.Field(12).RawText);
        sb.Append('\r');

        sb.Append("MSA").Append(f).Append(code).Append(f);
        if (original is not null)
        {
            sb.Append(original.Msh.Field(10).RawText);
        }
        else if (controlId is not null)
        {
            sb.Append(Hl7Escaping.Encode(controlId, d));
        }

        if (error is not null && !modernErr)
        {
            sb.Append(f).Append(error.Text); // MSA-3, withdrawn from v2.5 on
        }

        sb.Append('\r');

        if (error is not null)
        {
            string code0357 = ((int)error.Code).ToString(CultureInfo.InvariantCulture);
            sb.Append("ERR").Append(f);
            if (modernErr)
            {
                // ERR-2 location (ERL), ERR-3 code (CWE, table 0357), ERR-4 severity.
                sb.Append(f);
                if (error.Segment is not null)
                {
                    sb.Append(error.Segment).Append(c).Append(error.Sequence.ToString(CultureInfo.InvariantCulture));
                    if (error.Field > 0)
                    {
                        sb.Append(c).Append(error.Field.ToString(CultureInfo.InvariantCulture));
                    }
                }

                sb.Append(f).Append(code0357).Append(c).Append(error.Text).Append(c).Append("HL70357");
                sb.Append(f).Append('E');
            }
            else
            {
                // ERR-1 (ELD): segment^sequence^field^code&text&HL70357.
                char s = d.Subcomponent != 0 ? (char)d.Subcomponent : '&';
                sb.Append(error.Segment).Append(c).Append(error.Sequence.ToString(CultureInfo.InvariantCulture)).Append(c);
                if (error.Field > 0)
                {
                    sb.Append(error.Field.ToString(CultureInfo.InvariantCulture));
                }

                sb.Append(c).Append(code0357).Append(s).Append(error.Text).Append(s).Append("HL70357");
            }

            sb.Append('\r');
        }

        Encoding encoding = original?.Encoding ?? Hl7Charsets.Utf8;
        return encoding.GetBytes(sb.ToString());
    }

    // The hot path (every accepted message): copies the original's bytes for the echoed fields, writes the rest as
    // ASCII, and allocates only the result.
    private byte[] BuildAccept(Hl7Message original, string code, DateTimeOffset now)
    {
        Hl7Segment msh = original.Msh;
        ReadOnlySpan<byte> encodingChars = msh.Field(2).Span;
        ReadOnlySpan<byte> receivingApp = msh.Field(5).Span;
        ReadOnlySpan<byte> receivingFacility = msh.Field(6).Span;
        ReadOnlySpan<byte> sendingApp = msh.Field(3).Span;
        ReadOnlySpan<byte> sendingFacility = msh.Field(4).Span;
        ReadOnlySpan<byte> trigger = msh.Field(9).Component(2).Span;
        ReadOnlySpan<byte> controlId = msh.Field(10).Span;
        ReadOnlySpan<byte> processing = msh.Field(11).Span;
        ReadOnlySpan<byte> version = msh.Field(12).Span;
        bool structure = IsAtLeast25(msh.Field(12).Component(1).Span);
        byte f = original.Delimiters.Field;
        byte c = original.Delimiters.Component;

        Span<byte> id = stackalloc byte[20];
        System.Buffers.Text.Utf8Formatter.TryFormat(Interlocked.Increment(ref _counter), id, out int idLength);
        Span<byte> time = stackalloc byte[19];
        WriteTimestamp(now, time);

        int length = 3 + 1 + encodingChars.Length + 1 + receivingApp.Length + 1 + receivingFacility.Length + 1 + sendingApp.Length + 1
            + sendingFacility.Length + 1 + time.Length + 1 + 1 + 3 + (trigger.IsEmpty ? 0 : 1 + trigger.Length + (structure ? 4 : 0))
            + 1 + _prefixBytes.Length + 1 + idLength + 1 + (processing.IsEmpty ? 1 : processing.Length) + 1 + version.Length + 1
            + 3 + 1 + 2 + 1 + controlId.Length + 1;
        byte[] result = new byte[length];
        var w = new SpanWriter(result);
        w.Write("MSH"u8); w.Write(f); w.Write(encodingChars);
        w.Write(f); w.Write(receivingApp); w.Write(f); w.Write(receivingFacility);
        w.Write(f); w.Write(sendingApp); w.Write(f); w.Write(sendingFacility);
        w.Write(f); w.Write(time); w.Write(f);
        w.Write(f); w.Write("ACK"u8);
        if (!trigger.IsEmpty)
        {
            w.Write(c); w.Write(trigger);
            if (structure)
            {
                w.Write(c); w.Write("ACK"u8);
            }
        }

        w.Write(f); w.Write(_prefixBytes); w.Write((byte)'.'); w.Write(id[..idLength]);
        w.Write(f); w.Write(processing.IsEmpty ? "P"u8 : processing);
        w.Write(f); w.Write(version); w.Write((byte)'\r');
        w.Write("MSA"u8); w.Write(f); w.Write((byte)code[0]); w.Write((byte)code[1]); w.Write(f); w.Write(controlId); w.Write((byte)'\r');
        return result;
    }

    private static void WriteTimestamp(DateTimeOffset now, Span<byte> output)
    {
        Digits(output[..4], now.Year);
        Digits(output.Slice(4, 2), now.Month);
        Digits(output.Slice(6, 2), now.Day);
        Digits(output.Slice(8, 2), now.Hour);
        Digits(output.Slice(10, 2), now.Minute);
        Digits(output.Slice(12, 2), now.Second);
        int offset = (int)now.Offset.TotalMinutes;
        output[14] = offset < 0 ? (byte)'-' : (byte)'+';
        offset = Math.Abs(offset);
        Digits(output.Slice(15, 2), offset / 60);
        Digits(output.Slice(17, 2), offset % 60);

        static void Digits(Span<byte> target, int value)
        {
            for (int i = target.Length - 1; i >= 0; i--)
            {
                target[i] = (byte)('0' + (value % 10));
                value /= 10;
            }
        }
    }

    private ref struct SpanWriter(Span<byte> target)
    {
        private readonly Span<byte> _target = target;
        private int _position;

        public void Write(byte b) => _target[_position++] = b;

        public void Write(scoped ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(_target[_position..]);
            _position += bytes.Length;
        }
    }

    /// <summary>
    /// Wraps the acknowledgments of a batch's messages in an acknowledgment batch: a BHS with sender and receiver
    /// swapped and BHS-12 = the original BHS-11, one ACK per message in order, and a BTS with their count.
    /// </summary>
    /// <param name="originalHeader">The BHS of the batch acknowledged.</param>
    /// <param name="delimiters">The batch's delimiters.</param>
    /// <param name="acks">Each message's acknowledgment, as built by <see cref="Build"/>.</param>
    /// <param name="now">BHS-7.</param>
    public byte[] BuildBatch(Hl7Segment originalHeader, Delimiters delimiters, IReadOnlyList<byte[]> acks, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(acks);
        char f = (char)delimiters.Field;
        var sb = new StringBuilder(64);
        sb.Append("BHS").Append(f).Append(delimiters.EncodingCharacters);
        foreach (int field in new[] { 5, 6, 3, 4 })
        {
            sb.Append(f).Append(originalHeader.Field(field).RawText);
        }

        sb.Append(f).Append(now.ToString("yyyyMMddHHmmsszzz", CultureInfo.InvariantCulture).Replace(":", string.Empty, StringComparison.Ordinal));
        sb.Append(f).Append(f).Append(f); // BHS-8 security, BHS-9 name/id/type, BHS-10 comment
        sb.Append(f).Append(_prefix).Append(".B").Append(Interlocked.Increment(ref _counter).ToString(CultureInfo.InvariantCulture));
        sb.Append(f).Append(originalHeader.Field(11).RawText).Append('\r');

        var output = new List<byte>(Encoding.ASCII.GetByteCount(sb.ToString()) + acks.Sum(a => a.Length) + 16);
        output.AddRange(Encoding.UTF8.GetBytes(sb.ToString()));
        foreach (byte[] ack in acks)
        {
            output.AddRange(ack);
        }

        output.AddRange(Encoding.ASCII.GetBytes($"BTS{f}{acks.Count.ToString(CultureInfo.InvariantCulture)}\r"));
        return [.. output];
    }

    /// <summary>
    /// Finds MSH-10 in a frame that could not be parsed, using the byte after "MSH" as the field separator.
    /// Returns null when there is nothing that looks like it. Never throws.
    /// </summary>
    public static string? LooseControlId(ReadOnlySpan<byte> frame)
    {
        int at = frame.IndexOf("MSH"u8);
        if (at < 0 || at + 4 > frame.Length)
        {
            return null;
        }

        ReadOnlySpan<byte> msh = frame[at..];
        int end = msh.IndexOfAny((byte)'\r', (byte)'\n');
        if (end >= 0)
        {
            msh = msh[..end];
        }

        if (msh.Length < 4)
        {
            return null;
        }

        byte fs = msh[3];
        if (fs is (byte)'\r' or (byte)'\n' or < 0x20 or >= 0x7F)
        {
            return null;
        }

        // MSH-10 is the 9th piece after "MSH" when split on the field separator.
        int piece = 0;
        int start = 0;
        for (int i = 0; i <= msh.Length; i++)
        {
            if (i == msh.Length || msh[i] == fs)
            {
                if (piece == 9)
                {
                    ReadOnlySpan<byte> value = msh[start..i];
                    if (value.IsEmpty || value.Length > 199 || value.IndexOfAnyExceptInRange((byte)0x20, (byte)0x7E) >= 0)
                    {
                        return null;
                    }

                    return Encoding.ASCII.GetString(value);
                }

                piece++;
                start = i + 1;
            }
        }

        return null;
    }

    private static bool IsAtLeast25(string version) =>
        version.Length >= 3 && version[0] == '2' && version[1] == '.' && version[2] >= '5';

    private static bool IsAtLeast25(ReadOnlySpan<byte> version) =>
        version.Length >= 3 && version[0] == '2' && version[1] == '.' && version[2] >= '5';

    private static void AppendField(StringBuilder sb, char f, Hl7Message? original, int field)
    {
        sb.Append(f);
        if (original is not null)
        {
            sb.Append(original.Msh.Field(field).RawText);
        }
    }
}
