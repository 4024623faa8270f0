namespace StreamEngine.Mllp;

/// <summary>Writes MLLP frames.</summary>
public static class MllpFrame
{
    /// <summary>Wraps a payload as one MLLP frame in one buffer, so it goes out in one socket write.</summary>
    public static byte[] Wrap(ReadOnlySpan<byte> payload)
    {
        var framed = new byte[payload.Length + 3];
        framed[0] = MllpDecoder.StartBlock;
        payload.CopyTo(framed.AsSpan(1));
        framed[^2] = MllpDecoder.EndBlock;
        framed[^1] = MllpDecoder.CarriageReturn;
        return framed;
    }
}
