using System.Buffers;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Text;
using System.Text.Unicode;

namespace StreamEngine.Hl7v2;

/// <summary>
/// Parses ER7 (pipe-delimited) HL7 v2 into an index over the input bytes. Never throws on input; runs in time
/// linear in the input length. Segment terminators may be CR, LF or CRLF (mixed too); a UTF-8 byte-order mark
/// and blank lines are skipped. Tokenising is vectorised: one pass builds a bit mask of field separators and
/// terminators per 32 (or 16) bytes and walks its set bits, rather than calling IndexOf once per delimiter.
/// </summary>
public static class Hl7Parser
{
    private static readonly string[] KnownVersions =
        ["2.1", "2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2"];

    /// <summary>
    /// Parses one message. Returns true when the message is usable (no error-level issue); <paramref name="message"/>
    /// is set whenever the MSH segment could be indexed, even if a later check failed, so callers can still read
    /// MSH-10 for a NAK.
    /// </summary>
    public static bool TryParse(ReadOnlyMemory<byte> input, out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues,
        Hl7ParseOptions? options = null)
    {
        var target = new Hl7Message();
        bool indexed = TryIndex(input, target, options ?? Hl7ParseOptions.Default, out issues, out bool usable);
        message = indexed ? target : null;
        return usable;
    }

    /// <summary>Parses from a byte array.</summary>
    public static bool TryParse(byte[] input, out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues, Hl7ParseOptions? options = null) =>
        TryParse(input.AsMemory(), out message, out issues, options);

    /// <summary>
    /// Parses from a sequence. A single-segment sequence is indexed in place; a multi-segment one is first copied into
    /// one buffer, because the index addresses contiguous bytes.
    /// </summary>
    public static bool TryParse(ReadOnlySequence<byte> input, out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues, Hl7ParseOptions? options = null) =>
        TryParse(input.IsSingleSegment ? input.First : input.ToArray(), out message, out issues, options);

    /// <summary>
    /// Parses into an existing message, reusing its index arrays: with a pooled <see cref="Hl7Message"/>, a parse that
    /// finds no issue allocates nothing. Returns true when the message is usable; <paramref name="message"/> is
    /// readable whenever the header could be indexed (check <see cref="Hl7Message.SegmentCount"/>). The issues list
    /// belongs to the message and is reused by its next parse: copy it to keep it.
    /// </summary>
    public static bool TryParse(ReadOnlyMemory<byte> input, Hl7Message message, out IReadOnlyList<Hl7Issue> issues, Hl7ParseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(message);
        TryIndex(input, message, options ?? Hl7ParseOptions.Default, out issues, out bool usable);
        return usable;
    }

    /// <summary>Indexes segments and fields without the MSH checks: for batch envelopes (FHS/BHS first).</summary>
    internal static bool TryIndexEnvelope(ReadOnlyMemory<byte> input, Hl7Message message, Hl7ParseOptions options, ref List<Hl7Issue>? issues) =>
        Index(input, message, options, ref issues);

    private static bool TryIndex(ReadOnlyMemory<byte> input, Hl7Message message, Hl7ParseOptions options, out IReadOnlyList<Hl7Issue> issues,
        out bool usable)
    {
        List<Hl7Issue>? found = message.ReusableIssues;
        found?.Clear();
        bool indexed = Index(input, message, options, ref found);
        if (indexed)
        {
            CheckHeader(message, ref found);
            if (options.ValidateEscapes)
            {
                CheckEscapes(message, ref found);
            }
        }
        else
        {
            message.Reset(input, default);
        }

        message.ReusableIssues = found;
        issues = found is { Count: > 0 } ? found : [];
        usable = indexed;
        if (found is not null)
        {
            foreach (Hl7Issue issue in found)
            {
                if (issue.IsError)
                {
                    usable = false;
                    break;
                }
            }
        }

        return indexed;
    }

    private static bool Index(ReadOnlyMemory<byte> input, Hl7Message message, Hl7ParseOptions options, ref List<Hl7Issue>? issues)
    {
        ReadOnlySpan<byte> span = input.Span;
        int pos = SkipPreamble(span);
        if (pos >= span.Length)
        {
            Add(ref issues, Hl7IssueCode.Empty, 0, 0);
            return false;
        }

        ReadOnlySpan<byte> first = span[pos..];
        if (!(first.StartsWith("MSH"u8) || first.StartsWith("FHS"u8) || first.StartsWith("BHS"u8)))
        {
            Add(ref issues, Hl7IssueCode.BadMsh, 1, 0);
            return false;
        }

        int firstEnd = first.IndexOfAny((byte)'\r', (byte)'\n');
        ReadOnlySpan<byte> header = firstEnd < 0 ? first : first[..firstEnd];
        if (!Delimiters.TryRead(header, out Delimiters delimiters, out bool repaired))
        {
            bool tooShort = header.Length < 8;
            Add(ref issues, tooShort ? Hl7IssueCode.BadMsh : Hl7IssueCode.BadDelimiters, 1, tooShort ? 0 : 2);
            return false;
        }

        if (repaired)
        {
            Add(ref issues, Hl7IssueCode.DuplicatedEncodingCharacter, 1, 2);
        }

        message.Reset(input, delimiters);
        Tokenise(span, pos, delimiters.Field, message, options, ref issues);

        if (span.IndexOfAnyInRange((byte)0, (byte)8) >= 0)
        {
            Add(ref issues, Hl7IssueCode.ControlCharacter, 0, 0);
        }

        message.Encoding = ResolveEncoding(input.Span, message, options, ref issues);
        return message.SegmentCount > 0;
    }

    // One pass over span[start..]: every field separator starts a piece; a CR or LF ends the segment, and the next
    // segment starts at the first byte after the run of terminators (CRLF, blank lines).
    private static void Tokenise(ReadOnlySpan<byte> span, int start, byte fs, Hl7Message message, Hl7ParseOptions options, ref List<Hl7Issue>? issues)
    {
        int segmentStart = start;
        if (!Begin(message, start, options, ref issues))
        {
            return;
        }

        int i = start;
        if (Vector256.IsHardwareAccelerated && span.Length - i >= Vector256<byte>.Count)
        {
            Vector256<byte> vfs = Vector256.Create(fs);
            Vector256<byte> vcr = Vector256.Create((byte)'\r');
            Vector256<byte> vlf = Vector256.Create((byte)'\n');
            int last = span.Length - Vector256<byte>.Count;
            for (; i <= last; i += Vector256<byte>.Count)
            {
                Vector256<byte> v = Vector256.Create(span.Slice(i, Vector256<byte>.Count));
                uint mask = (Vector256.Equals(v, vfs) | Vector256.Equals(v, vcr) | Vector256.Equals(v, vlf)).ExtractMostSignificantBits();
                while (mask != 0)
                {
                    int at = i + BitOperations.TrailingZeroCount(mask);
                    mask &= mask - 1;
                    if (!Hit(span, at, fs, message, options, ref segmentStart, ref issues))
                    {
                        return;
                    }
                }
            }
        }
        else if (Vector128.IsHardwareAccelerated && span.Length - i >= Vector128<byte>.Count)
        {
            Vector128<byte> vfs = Vector128.Create(fs);
            Vector128<byte> vcr = Vector128.Create((byte)'\r');
            Vector128<byte> vlf = Vector128.Create((byte)'\n');
            int last = span.Length - Vector128<byte>.Count;
            for (; i <= last; i += Vector128<byte>.Count)
            {
                Vector128<byte> v = Vector128.Create(span.Slice(i, Vector128<byte>.Count));
                uint mask = (Vector128.Equals(v, vfs) | Vector128.Equals(v, vcr) | Vector128.Equals(v, vlf)).ExtractMostSignificantBits();
                while (mask != 0)
                {
                    int at = i + BitOperations.TrailingZeroCount(mask);
                    mask &= mask - 1;
                    if (!Hit(span, at, fs, message, options, ref segmentStart, ref issues))
                    {
                        return;
                    }
                }
            }
        }

        for (; i < span.Length; i++)
        {
            byte b = span[i];
            if ((b == fs || b is (byte)'\r' or (byte)'\n') && !Hit(span, i, fs, message, options, ref segmentStart, ref issues))
            {
                return;
            }
        }

        if (segmentStart >= 0)
        {
            End(span, span.Length, message, options, segmentStart, ref issues);
        }

        message.MarkTerminated(segmentStart < 0);
    }

    // A delimiter at 'at'. Returns false to stop (a limit was reached).
    private static bool Hit(ReadOnlySpan<byte> span, int at, byte fs, Hl7Message message, Hl7ParseOptions options, ref int segmentStart,
        ref List<Hl7Issue>? issues)
    {
        if (segmentStart < 0 || at < segmentStart)
        {
            return true; // part of a run of terminators already consumed
        }

        if (span[at] == fs)
        {
            if (at - segmentStart > options.MaxSegmentLength)
            {
                Add(ref issues, Hl7IssueCode.SegmentTooLong, message.SegmentCount + 1, 0);
                message.AbandonSegment();
                return false;
            }

            message.AddPiece(at + 1);
            return true;
        }

        if (!End(span, at, message, options, segmentStart, ref issues))
        {
            return false;
        }

        int next = at + 1;
        while (next < span.Length && span[next] is (byte)'\r' or (byte)'\n')
        {
            next++;
        }

        if (next >= span.Length)
        {
            segmentStart = -1;
            return true;
        }

        segmentStart = next;
        return Begin(message, next, options, ref issues);
    }

    private static bool Begin(Hl7Message message, int start, Hl7ParseOptions options, ref List<Hl7Issue>? issues)
    {
        if (message.SegmentCount >= options.MaxSegments)
        {
            Add(ref issues, Hl7IssueCode.TooManySegments, message.SegmentCount + 1, 0);
            return false;
        }

        message.BeginSegment(start);
        return true;
    }

    private static bool End(ReadOnlySpan<byte> span, int end, Hl7Message message, Hl7ParseOptions options, int segmentStart,
        ref List<Hl7Issue>? issues)
    {
        int number = message.SegmentCount + 1;
        if (end - segmentStart > options.MaxSegmentLength)
        {
            Add(ref issues, Hl7IssueCode.SegmentTooLong, number, 0);
            message.AbandonSegment();
            return false;
        }

        if (!IsSegmentId(span[segmentStart..end], message.Delimiters.Field))
        {
            Add(ref issues, Hl7IssueCode.BadSegmentId, number, 0);
        }

        message.EndSegment(end);
        return true;
    }

    private static int SkipPreamble(ReadOnlySpan<byte> span)
    {
        int pos = 0;
        if (span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            pos = 3;
        }

        while (pos < span.Length && span[pos] is (byte)'\r' or (byte)'\n' or (byte)' ' or (byte)'\t')
        {
            pos++;
        }

        return pos;
    }

    private static bool IsSegmentId(ReadOnlySpan<byte> seg, byte fs)
    {
        if (seg.Length < 3 || (seg.Length > 3 && seg[3] != fs))
        {
            return false;
        }

        for (int i = 0; i < 3; i++)
        {
            byte b = seg[i];
            if (!(b is >= (byte)'A' and <= (byte)'Z' || b is >= (byte)'0' and <= (byte)'9'))
            {
                return false;
            }
        }

        return true;
    }

    private static Encoding ResolveEncoding(ReadOnlySpan<byte> input, Hl7Message message, Hl7ParseOptions options, ref List<Hl7Issue>? issues)
    {
        Hl7Segment header = message.Msh;
        ReadOnlySpan<byte> msh18 = header.IdSpan.SequenceEqual("MSH"u8) ? header.Field(18).Repetition(1).Span : default;
        Span<char> name = stackalloc char[Math.Min(msh18.Length, 32)];
        for (int i = 0; i < name.Length; i++)
        {
            name[i] = (char)msh18[i];
        }

        Encoding? declared = Hl7Charsets.FromMsh18(name);
        if (declared is null)
        {
            Add(ref issues, Hl7IssueCode.BadCharset, 1, 18);
            return options.FallbackEncoding;
        }

        if (ReferenceEquals(declared, Hl7Charsets.Utf8) && !Utf8.IsValid(input))
        {
            // Mislabelled input: bytes that are not UTF-8 under an ASCII/UTF-8 label. Read with the fallback.
            Add(ref issues, Hl7IssueCode.BadCharset, 1, 18);
            return options.FallbackEncoding;
        }

        return declared;
    }

    private static void CheckHeader(Hl7Message message, ref List<Hl7Issue>? issues)
    {
        Hl7Segment msh = message.Msh;
        if (!msh.IdSpan.SequenceEqual("MSH"u8))
        {
            Add(ref issues, Hl7IssueCode.BadMsh, 1, 0); // a batch header: split batches with Hl7Batch first
            return;
        }

        if (msh.Field(9).Component(1).IsEmpty)
        {
            Add(ref issues, Hl7IssueCode.MissingMessageType, 1, 9);
        }

        for (int s = 1; s < message.SegmentCount; s++)
        {
            if (message.SegmentIdEquals(s, "MSH"))
            {
                Add(ref issues, Hl7IssueCode.MultipleMessages, s + 1, 0);
                break;
            }
        }

        if (!message.EndsWithTerminator)
        {
            Add(ref issues, Hl7IssueCode.Unterminated, message.SegmentCount, 0);
        }

        for (int f = 15; f <= 16; f++)
        {
            ReadOnlySpan<byte> ackType = msh.Field(f).Component(1).Span.Trim((byte)' ');
            if (!ackType.IsEmpty && !Hl7AckBuilder.IsKnownAckType(ackType))
            {
                Add(ref issues, Hl7IssueCode.UnknownAcknowledgmentType, 1, f);
            }
        }

        if (msh.Field(10).IsEmpty)
        {
            Add(ref issues, Hl7IssueCode.MissingControlId, 1, 10);
        }

        ReadOnlySpan<byte> version = msh.Field(12).Component(1).Span;
        foreach (string v in KnownVersions)
        {
            if (Ascii.Equals(version, v))
            {
                return;
            }
        }

        Add(ref issues, Hl7IssueCode.UnknownVersion, 1, 12);
    }

    // Escape sequences are checked where the escape character occurs at all (usually nowhere: one vectorised scan).
    private static void CheckEscapes(Hl7Message message, ref List<Hl7Issue>? issues)
    {
        byte esc = message.Delimiters.Escape;
        if (esc == 0)
        {
            return;
        }

        ReadOnlySpan<byte> raw = message.Raw.Span;
        for (int s = message.SegmentCount > 0 && message.Msh.IsHeader ? 1 : 0; s < message.SegmentCount; s++)
        {
            int start = message.SegmentStart(s);
            ReadOnlySpan<byte> segment = raw[start..message.SegmentEnd(s)];
            if (segment.IndexOf(esc) < 0)
            {
                continue;
            }

            // Field by field, so that an escape never pairs across a field boundary.
            Hl7Segment seg = message[s];
            for (int f = 1; f <= seg.FieldCount; f++)
            {
                ReadOnlySpan<byte> field = seg.Field(f).Span;
                if (field.IndexOf(esc) >= 0 && FindInvalidInField(field, message.Delimiters) >= 0)
                {
                    Add(ref issues, Hl7IssueCode.InvalidEscape, s + 1, f);
                }
            }
        }
    }

    // Escapes are checked per component/subcomponent text, the level they apply to.
    private static int FindInvalidInField(ReadOnlySpan<byte> field, Delimiters d)
    {
        while (true)
        {
            int cut = field.IndexOfAny(d.Repetition, d.Component, d.Subcomponent == 0 ? d.Component : d.Subcomponent);
            ReadOnlySpan<byte> piece = cut < 0 ? field : field[..cut];
            int bad = Hl7Escaping.FindInvalid(piece, d);
            if (bad >= 0)
            {
                return bad;
            }

            if (cut < 0)
            {
                return -1;
            }

            field = field[(cut + 1)..];
        }
    }

    private static void Add(ref List<Hl7Issue>? issues, Hl7IssueCode code, int segment, int field) =>
        (issues ??= []).Add(new Hl7Issue(code, segment, field));
}
