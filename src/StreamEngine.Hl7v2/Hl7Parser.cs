using System.Text;
using System.Text.Unicode;

namespace StreamEngine.Hl7v2;

/// <summary>
/// Parses ER7 (pipe-delimited) HL7 v2 into an index over the input bytes. Never throws on input; runs in time
/// linear in the input length. Segment terminators may be CR, LF or CRLF (mixed too); a UTF-8 byte-order mark
/// and blank lines are skipped.
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
        options ??= Hl7ParseOptions.Default;
        List<Hl7Issue>? found = null;
        message = Index(input, options, ref found);
        if (message is not null)
        {
            CheckHeader(message, ref found);
        }

        issues = found ?? (IReadOnlyList<Hl7Issue>)[];
        if (found is null)
        {
            return true;
        }

        foreach (Hl7Issue issue in found)
        {
            if (issue.IsError)
            {
                return false;
            }
        }

        return message is not null;
    }

    /// <summary>Parses from a byte array.</summary>
    public static bool TryParse(byte[] input, out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues, Hl7ParseOptions? options = null) =>
        TryParse(input.AsMemory(), out message, out issues, options);

    private static Hl7Message? Index(ReadOnlyMemory<byte> input, Hl7ParseOptions options, ref List<Hl7Issue>? issues)
    {
        ReadOnlySpan<byte> span = input.Span;
        int pos = SkipPreamble(span);
        if (pos >= span.Length)
        {
            Add(ref issues, Hl7IssueCode.Empty, 0, 0);
            return null;
        }

        ReadOnlySpan<byte> first = span[pos..];
        if (!(first.StartsWith("MSH"u8) || first.StartsWith("FHS"u8) || first.StartsWith("BHS"u8)))
        {
            Add(ref issues, Hl7IssueCode.BadMsh, 1, 0);
            return null;
        }

        int firstEnd = first.IndexOfAny((byte)'\r', (byte)'\n');
        if (!Delimiters.TryRead(firstEnd < 0 ? first : first[..firstEnd], out Delimiters delimiters, out bool repaired))
        {
            Add(ref issues, first.Length < 9 ? Hl7IssueCode.BadMsh : Hl7IssueCode.BadDelimiters, 1, first.Length < 9 ? 0 : 2);
            return null;
        }

        if (repaired)
        {
            Add(ref issues, Hl7IssueCode.DuplicatedEncodingCharacter, 1, 2);
        }

        // Sizes: a first guess from the input length, grown by doubling (amortised linear).
        var segStart = new int[16];
        var segEnd = new int[16];
        var segFirst = new int[16];
        var fields = new int[Math.Clamp(span.Length / 6, 32, 1 << 16)];
        int segCount = 0;
        int fieldCount = 0;
        byte fs = delimiters.Field;

        while (pos < span.Length)
        {
            ReadOnlySpan<byte> rest = span[pos..];
            int len = rest.IndexOfAny((byte)'\r', (byte)'\n');
            if (len < 0)
            {
                len = rest.Length;
            }

            if (len > 0)
            {
                int segmentNumber = segCount + 1;
                if (segCount >= options.MaxSegments)
                {
                    Add(ref issues, Hl7IssueCode.TooManySegments, segmentNumber, 0);
                    break;
                }

                if (len > options.MaxSegmentLength)
                {
                    Add(ref issues, Hl7IssueCode.SegmentTooLong, segmentNumber, 0);
                    break;
                }

                ReadOnlySpan<byte> seg = rest[..len];
                if (!IsSegmentId(seg, fs))
                {
                    Add(ref issues, Hl7IssueCode.BadSegmentId, segmentNumber, 0);
                }

                if (segCount == segStart.Length)
                {
                    Array.Resize(ref segStart, segCount * 2);
                    Array.Resize(ref segEnd, segCount * 2);
                    Array.Resize(ref segFirst, segCount * 2);
                }

                segStart[segCount] = pos;
                segEnd[segCount] = pos + len;
                segFirst[segCount] = fieldCount;

                // Piece 0 starts at the segment start; every field separator starts another piece.
                int local = 0;
                while (true)
                {
                    if (fieldCount == fields.Length)
                    {
                        Array.Resize(ref fields, fields.Length * 2);
                    }

                    fields[fieldCount++] = pos + local;
                    int next = seg[local..].IndexOf(fs);
                    if (next < 0)
                    {
                        break;
                    }

                    local += next + 1;
                }

                segCount++;
            }

            pos += len;
            // Consume one terminator: CR, LF or CRLF. Further blank lines are empty segments, skipped above.
            if (pos < span.Length && span[pos] == '\r')
            {
                pos++;
            }

            if (pos < span.Length && span[pos] == '\n')
            {
                pos++;
            }
        }

        if (span.IndexOfAnyInRange((byte)0, (byte)8) >= 0)
        {
            Add(ref issues, Hl7IssueCode.ControlCharacter, 0, 0);
        }

        Encoding encoding = ResolveEncoding(input, delimiters, segStart[0], segEnd[0], options, ref issues);
        // The index relies on the array length to end the last segment's pieces.
        Array.Resize(ref fields, fieldCount);

        return new Hl7Message(input, delimiters, encoding, segStart, segEnd, segFirst, fields, segCount);
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

    private static Encoding ResolveEncoding(ReadOnlyMemory<byte> input, Delimiters d, int mshStart, int mshEnd, Hl7ParseOptions options,
        ref List<Hl7Issue>? issues)
    {
        // MSH-18 is the 17th piece after the id when split on the field separator (MSH-1 is the separator itself).
        ReadOnlySpan<byte> msh = input.Span[mshStart..mshEnd];
        ReadOnlySpan<byte> msh18 = default;
        int piece = 0;
        int start = 0;
        for (int i = 0; i <= msh.Length; i++)
        {
            if (i == msh.Length || msh[i] == d.Field)
            {
                if (piece == 17)
                {
                    msh18 = msh[start..i];
                    break;
                }

                piece++;
                start = i + 1;
            }
        }

        int rep = msh18.IndexOf(d.Repetition);
        if (rep >= 0)
        {
            msh18 = msh18[..rep];
        }

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

        if (ReferenceEquals(declared, Hl7Charsets.Utf8) && !Utf8.IsValid(input.Span))
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

        if (msh.Field(10).IsEmpty)
        {
            Add(ref issues, Hl7IssueCode.MissingControlId, 1, 10);
        }

        ReadOnlySpan<byte> version = msh.Field(12).Component(1).Span;
        bool known = false;
        foreach (string v in KnownVersions)
        {
            if (Ascii.Equals(version, v))
            {
                known = true;
                break;
            }
        }

        if (!known)
        {
            Add(ref issues, Hl7IssueCode.UnknownVersion, 1, 12);
        }
    }

    private static void Add(ref List<Hl7Issue>? issues, Hl7IssueCode code, int segment, int field) =>
        (issues ??= []).Add(new Hl7Issue(code, segment, field));
}
