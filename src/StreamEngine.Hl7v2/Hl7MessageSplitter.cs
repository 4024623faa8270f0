namespace StreamEngine.Hl7v2;

/// <summary>
/// Splits a file of HL7 v2 text into messages: segments may end in CR, LF or CRLF; a blank line or a new MSH
/// starts a new message. Batch envelope segments (FHS, BHS, BTS, FTS) are not messages and are left out. Each
/// message comes back with its segments ending in CR, the terminator MLLP peers expect.
/// </summary>
public static class Hl7MessageSplitter
{
    /// <summary>Splits <paramref name="content"/> into messages.</summary>
    public static List<byte[]> Split(ReadOnlySpan<byte> content)
    {
        var messages = new List<byte[]>();
        var current = new List<byte>(1024);
        if (content.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            content = content[3..];
        }

        while (!content.IsEmpty)
        {
            int end = content.IndexOfAny((byte)'\r', (byte)'\n');
            ReadOnlySpan<byte> line = end < 0 ? content : content[..end];
            int next = end < 0 ? content.Length : end + 1;
            if (end >= 0 && content[end] == '\r' && next < content.Length && content[next] == '\n')
            {
                next++; // CRLF is one terminator
            }

            content = content[next..];

            if (line.Trim((byte)' ').IsEmpty)
            {
                Flush(current, messages);
                continue;
            }

            if (line.StartsWith("MSH"u8))
            {
                Flush(current, messages);
            }
            else if (line.StartsWith("FHS"u8) || line.StartsWith("BHS"u8) || line.StartsWith("BTS"u8) || line.StartsWith("FTS"u8))
            {
                Flush(current, messages);
                continue;
            }

            current.AddRange(line);
            current.Add((byte)'\r');
        }

        Flush(current, messages);
        return messages;
    }

    private static void Flush(List<byte> current, List<byte[]> messages)
    {
        if (current.Count > 0)
        {
            messages.Add([.. current]);
            current.Clear();
        }
    }
}
