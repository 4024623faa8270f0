using System.Buffers;

namespace StreamEngine.Hl7v2;

/// <summary>
/// Finds message boundaries in a stream of unframed HL7 v2 text (files, pipes): a message runs from its MSH to the
/// next line that starts a message or a batch segment (MSH, FHS, BHS, BTS, FTS) or to a blank line. Like Kestrel's
/// parsers it returns false for "need more" and consumes nothing then: a message is only complete once what
/// follows it has been seen, or at the final block.
/// </summary>
public static class Hl7StreamReader
{
    /// <summary>
    /// Reads the next message (its bytes as sent, terminators included) and advances past it. Lines before a message
    /// that are blank or batch envelope segments are skipped. Returns false when no complete message is buffered yet;
    /// with <paramref name="isFinalBlock"/>, whatever remains is the last message.
    /// </summary>
    public static bool TryReadMessage(ref SequenceReader<byte> reader, bool isFinalBlock, out ReadOnlySequence<byte> message)
    {
        message = default;
        SequenceReader<byte> scan = reader;

        // Skip blank lines and envelope segments in front of the message.
        while (true)
        {
            scan.AdvancePastAny((byte)'\r', (byte)'\n');
            if (scan.End)
            {
                if (isFinalBlock)
                {
                    reader = scan;
                }

                return false;
            }

            if (!StartsEnvelope(ref scan, isFinalBlock, out bool needMore))
            {
                if (needMore)
                {
                    return false;
                }

                break;
            }

            if (!scan.TryAdvanceToAny([(byte)'\r', (byte)'\n'], advancePastDelimiter: false))
            {
                if (!isFinalBlock)
                {
                    return false;
                }

                reader.AdvanceToEnd();
                return false;
            }
        }

        SequencePosition start = scan.Position;
        while (true)
        {
            if (!scan.TryAdvanceToAny([(byte)'\r', (byte)'\n'], advancePastDelimiter: false))
            {
                if (!isFinalBlock)
                {
                    return false;
                }

                scan.AdvanceToEnd();
                message = scan.Sequence.Slice(start, scan.Position);
                reader = scan;
                return true;
            }

            // Consume this line's terminator: CR, LF, CRLF, or CR CR LF (a CR file passed through a CRLF conversion).
            if (scan.TryRead(out byte terminator) && terminator == '\r' && !scan.IsNext((byte)'\n', advancePast: true))
            {
                scan.IsNext("\r\n"u8, advancePast: true);
            }

            SequencePosition afterLine = scan.Position;
            if (scan.End)
            {
                if (!isFinalBlock)
                {
                    return false;
                }

                message = scan.Sequence.Slice(start, afterLine);
                reader = scan;
                return true;
            }

            bool blank = scan.IsNext((byte)'\r') || scan.IsNext((byte)'\n');
            bool needMore = false;
            bool next = blank || StartsMessageOrEnvelope(ref scan, isFinalBlock, out needMore);
            if (!blank && needMore)
            {
                return false;
            }

            if (next)
            {
                message = scan.Sequence.Slice(start, afterLine);
                reader = scan;
                return true;
            }
        }
    }

    private static bool StartsEnvelope(ref SequenceReader<byte> scan, bool isFinalBlock, out bool needMore)
    {
        needMore = !isFinalBlock && scan.Remaining < 3;
        if (needMore)
        {
            return false;
        }

        return scan.IsNext("FHS"u8) || scan.IsNext("BHS"u8) || scan.IsNext("BTS"u8) || scan.IsNext("FTS"u8);
    }

    private static bool StartsMessageOrEnvelope(ref SequenceReader<byte> scan, bool isFinalBlock, out bool needMore) =>
        StartsEnvelope(ref scan, isFinalBlock, out needMore) || (!needMore && scan.IsNext("MSH"u8));

    /// <summary>Every message in a complete buffer (a whole file), as slices of it.</summary>
    public static List<ReadOnlyMemory<byte>> ReadAll(ReadOnlyMemory<byte> content)
    {
        var messages = new List<ReadOnlyMemory<byte>>();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(content));
        while (TryReadMessage(ref reader, isFinalBlock: true, out ReadOnlySequence<byte> message))
        {
            long offset = content.Length - reader.Remaining - message.Length;
            messages.Add(content.Slice((int)offset, (int)message.Length));
        }

        return messages;
    }
}
