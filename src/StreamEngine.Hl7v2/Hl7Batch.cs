namespace StreamEngine.Hl7v2;

/// <summary>One batch (BHS ... BTS) of a batch file: its header and its messages as slices of the input.</summary>
/// <param name="Header">The BHS segment, or null for messages outside any batch.</param>
/// <param name="Messages">Each message's bytes, from its MSH to the segment before the next MSH or trailer.</param>
public sealed record Hl7BatchGroup(Hl7Segment? Header, IReadOnlyList<ReadOnlyMemory<byte>> Messages);

/// <summary>
/// A batch file (HL7 v2 chapter 2 batch protocol): optional FHS, one or more BHS ... BTS groups, optional FTS.
/// Messages are slices of the input, not copies. BTS-1 (message count) and FTS-1 (batch count) are checked; a
/// mismatch or a missing trailer is a <see cref="Hl7IssueCode.BadBatch"/> issue with its segment position. A file of
/// plain messages with no envelope is read as one group without a header.
/// </summary>
public sealed class Hl7Batch
{
    private Hl7Batch(Hl7Message envelope, IReadOnlyList<Hl7BatchGroup> groups)
    {
        Envelope = envelope;
        Groups = groups;
    }

    /// <summary>The whole input, indexed: FHS, BHS, BTS and FTS are segments of it.</summary>
    public Hl7Message Envelope { get; }

    /// <summary>The batches in order.</summary>
    public IReadOnlyList<Hl7BatchGroup> Groups { get; }

    /// <summary>Every message of every batch, in order.</summary>
    public IEnumerable<ReadOnlyMemory<byte>> Messages => Groups.SelectMany(g => g.Messages);

    /// <summary>True when the input (an MLLP frame, say) begins with FHS or BHS.</summary>
    public static bool StartsWithEnvelope(ReadOnlySpan<byte> input)
    {
        int i = input.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        while (i < input.Length && input[i] is (byte)'\r' or (byte)'\n' or (byte)' ' or (byte)'\t')
        {
            i++;
        }

        ReadOnlySpan<byte> s = input[i..];
        return s.StartsWith("FHS"u8) || s.StartsWith("BHS"u8);
    }

    /// <summary>True when any line of the input is a batch envelope segment (FHS, BHS, BTS or FTS).</summary>
    public static bool IsBatch(ReadOnlySpan<byte> input)
    {
        bool lineStart = true;
        for (int i = 0; i + 3 <= input.Length; i++)
        {
            if (lineStart)
            {
                ReadOnlySpan<byte> s = input.Slice(i, 3);
                if (s.SequenceEqual("FHS"u8) || s.SequenceEqual("BHS"u8) || s.SequenceEqual("BTS"u8) || s.SequenceEqual("FTS"u8))
                {
                    return true;
                }
            }

            lineStart = input[i] is (byte)'\r' or (byte)'\n';
        }

        return false;
    }

    /// <summary>Splits a batch file. Returns false with issues when it cannot be read at all; count mismatches are reported but the messages are still returned.</summary>
    public static bool TryParse(ReadOnlyMemory<byte> input, out Hl7Batch? batch, out IReadOnlyList<Hl7Issue> issues, Hl7ParseOptions? options = null)
    {
        List<Hl7Issue>? found = null;
        var envelope = new Hl7Message();
        batch = null;
        if (!Hl7Parser.TryIndexEnvelope(input, envelope, options ?? Hl7ParseOptions.Default, ref found))
        {
            issues = found ?? (IReadOnlyList<Hl7Issue>)[];
            return false;
        }

        var groups = new List<Hl7BatchGroup>();
        List<ReadOnlyMemory<byte>> messages = [];
        Hl7Segment? header = null;
        bool inBatch = false;
        int batchesClosed = 0;
        int messageStart = -1;

        void CloseMessage(int end)
        {
            if (messageStart >= 0)
            {
                messages.Add(input[messageStart..end]);
                messageStart = -1;
            }
        }

        for (int s = 0; s < envelope.SegmentCount; s++)
        {
            Hl7Segment segment = envelope[s];
            ReadOnlySpan<byte> id = segment.IdSpan;
            int start = envelope.SegmentStart(s);
            if (id.SequenceEqual("MSH"u8))
            {
                CloseMessage(s > 0 ? TerminatedEnd(envelope, s - 1) : start);
                messageStart = start;
            }
            else if (id.SequenceEqual("BHS"u8))
            {
                CloseMessage(s > 0 ? TerminatedEnd(envelope, s - 1) : start);
                if (inBatch || messages.Count > 0)
                {
                    if (inBatch)
                    {
                        Add(ref found, s + 1); // a BHS while a batch is open: its BTS is missing
                    }

                    groups.Add(new Hl7BatchGroup(header, messages));
                    messages = [];
                }

                header = segment;
                inBatch = true;
            }
            else if (id.SequenceEqual("BTS"u8))
            {
                CloseMessage(TerminatedEnd(envelope, s - 1));
                if (!inBatch || !CountMatches(segment.Field(1), messages.Count))
                {
                    Add(ref found, s + 1);
                }

                groups.Add(new Hl7BatchGroup(header, messages));
                messages = [];
                header = null;
                inBatch = false;
                batchesClosed++;
            }
            else if (id.SequenceEqual("FTS"u8))
            {
                CloseMessage(TerminatedEnd(envelope, s - 1));
                if (inBatch)
                {
                    Add(ref found, s + 1); // FTS while a batch is open
                    groups.Add(new Hl7BatchGroup(header, messages));
                    messages = [];
                    inBatch = false;
                    batchesClosed++;
                }

                if (!CountMatches(segment.Field(1), batchesClosed))
                {
                    Add(ref found, s + 1);
                }
            }
            else if (id.SequenceEqual("FHS"u8))
            {
                CloseMessage(s > 0 ? TerminatedEnd(envelope, s - 1) : start);
            }
            else if (messageStart < 0)
            {
                Add(ref found, s + 1); // a segment outside any message: it would otherwise vanish
            }
        }

        CloseMessage(input.Length);
        if (inBatch)
        {
            Add(ref found, envelope.SegmentCount); // no BTS before the end
        }

        if (inBatch || messages.Count > 0)
        {
            groups.Add(new Hl7BatchGroup(header, messages));
        }

        batch = new Hl7Batch(envelope, groups);
        issues = found ?? (IReadOnlyList<Hl7Issue>)[];
        return true;
    }

    // The end of segment s including the terminator that follows it, so a message slice keeps its last CR.
    private static int TerminatedEnd(Hl7Message envelope, int s)
    {
        int end = envelope.SegmentEnd(s);
        ReadOnlySpan<byte> raw = envelope.Raw.Span;
        if (end < raw.Length && raw[end] == '\r')
        {
            end++;
        }

        if (end < raw.Length && raw[end] == '\n')
        {
            end++;
        }

        return end;
    }

    // An empty count is allowed (BTS-1 and FTS-1 are optional); a present one must match.
    private static bool CountMatches(Hl7Value count, int actual) =>
        count.IsEmpty || (int.TryParse(count.Span, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n == actual);

    private static void Add(ref List<Hl7Issue>? issues, int segment) => (issues ??= []).Add(new Hl7Issue(Hl7IssueCode.BadBatch, segment, 1));
}
