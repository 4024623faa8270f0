using StreamEngine.Hl7v2;
using StreamEngine.Mllp;

namespace StreamEngine.TestKit;

/// <summary>Answers (ACKs, NAKs) as a peer receives them: MLLP frames, parsed.</summary>
public static class MllpAnswers
{
    /// <summary>Every message in <paramref name="framed"/> (whole MLLP frames), parsed; throws on one that does not parse.</summary>
    public static List<Hl7Message> Parse(ReadOnlySpan<byte> framed)
    {
        var frames = new List<byte[]>();
        new MllpDecoder(1 << 20).Feed(framed, frames);
        return frames.ConvertAll(ParseOne);
    }

    /// <summary>Reads from <paramref name="stream"/> until one whole answer has arrived; throws if the peer closes first
    /// or <paramref name="limit"/> passes.</summary>
    public static async Task<Hl7Message> ReadOneAsync(Stream stream, TimeSpan limit)
    {
        var decoder = new MllpDecoder(1 << 20);
        var frames = new List<byte[]>();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(limit);
        while (frames.Count == 0)
        {
            int read = await stream.ReadAsync(buffer, timeout.Token);
            if (read == 0)
            {
                throw new IOException("The peer closed the connection before answering.");
            }

            decoder.Feed(buffer.AsSpan(0, read), frames);
        }

        return ParseOne(frames[0]);
    }

    private static Hl7Message ParseOne(byte[] frame) =>
        Hl7Parser.TryParse(frame, out Hl7Message? message, out _) && message is not null
            ? message
            : throw new InvalidOperationException("An answer that does not parse as HL7 v2.");
}
