namespace StreamEngine.Mllp;

/// <summary>Writes MLLP frames.</summary>
public static class MllpFrame
{
    /// <summary>MLLP release 2 commit acknowledgment: the message is stored.</summary>
    public static ReadOnlySpan<byte> CommitAck => [MllpDecoder.StartBlock, 0x06, MllpDecoder.EndBlock, MllpDecoder.CarriageReturn];

    /// <summary>MLLP release 2 negative commit acknowledgment: the message is not stored; send it again.</summary>
    public static ReadOnlySpan<byte> CommitNak => [MllpDecoder.StartBlock, 0x15, MllpDecoder.EndBlock, MllpDecoder.CarriageReturn];

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
