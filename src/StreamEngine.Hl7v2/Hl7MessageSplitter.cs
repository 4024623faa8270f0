namespace StreamEngine.Hl7v2;

/// <summary>
/// Splits a file of HL7 v2 text into messages ready to send: boundaries as <see cref="Hl7StreamReader"/> finds them
/// (a new MSH or a blank line; batch envelope segments skipped), each message's segments re-terminated with CR, the
/// terminator MLLP peers expect.
/// </summary>
public static class Hl7MessageSplitter
{
    /// <summary>Splits <paramref name="content"/> into messages.</summary>
    public static List<byte[]> Split(ReadOnlyMemory<byte> content)
    {
        if (content.Span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            content = content[3..];
        }

        var messages = new List<byte[]>();
        foreach (ReadOnlyMemory<byte> message in Hl7StreamReader.ReadAll(content))
        {
            messages.Add(WithCrTerminators(message.Span));
        }

        return messages;
    }

    private static byte[] WithCrTerminators(ReadOnlySpan<byte> message)
    {
        var output = new List<byte>(message.Length + 1);
        while (!message.IsEmpty)
        {
            int end = message.IndexOfAny((byte)'\r', (byte)'\n');
            ReadOnlySpan<byte> line = end < 0 ? message : message[..end];
            if (!line.IsEmpty)
            {
                output.AddRange(line);
                output.Add((byte)'\r');
            }

            message = end < 0 ? default : message[(end + 1)..];
        }

        return [.. output];
    }
}
