namespace StreamEngine.Hl7v2;

/// <summary>
/// The encoding characters of one message, read from MSH-1 and MSH-2 (or FHS/BHS).
/// Invariant: the five mandatory characters are distinct and none is CR or LF.
/// </summary>
public readonly record struct Delimiters(byte Field, byte Component, byte Repetition, byte Escape, byte Subcomponent, byte Truncation)
{
    /// <summary>The encoding characters every HL7 v2 sender is expected to use: <c>|^~\&amp;</c>.</summary>
    public static Delimiters Default { get; } = new((byte)'|', (byte)'^', (byte)'~', (byte)'\\', (byte)'&', 0);

    /// <summary>True when a truncation character (v2.7+, MSH-2 fifth character) was declared.</summary>
    public bool HasTruncation => Truncation != 0;

    /// <summary>
    /// Reads the delimiters from a segment starting with MSH, FHS or BHS. Returns false when they are unusable:
    /// missing, repeated, alphanumeric or segment terminators.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> header, out Delimiters delimiters) => TryRead(header, out delimiters, out _);

    /// <summary>
    /// As <see cref="TryRead(ReadOnlySpan{byte}, out Delimiters)"/>; <paramref name="repaired"/> is set when MSH-2
    /// doubled its escape character (<c>^~\&amp;</c>, a string-literal artefact seen in real feeds) and was read as
    /// <c>^~\&amp;</c>.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> header, out Delimiters delimiters, out bool repaired)
    {
        delimiters = default;
        repaired = false;
        if (header.Length >= 10 && header[6] == header[7] && header[6] == (byte)'\\' && header[9] == header[3] && header[8] != header[3])
        {
            Span<byte> fixedHeader = [header[0], header[1], header[2], header[3], header[4], header[5], header[6], header[8], header[9]];
            repaired = TryRead(fixedHeader, out delimiters, out _);
            return repaired;
        }

        if (header.Length < 8)
        {
            return false;
        }

        byte field = header[3];
        byte component = header[4];
        byte repetition = header[5];
        byte escape = header[6];
        byte subcomponent = header[7];
        byte truncation = 0;
        if (header.Length > 8 && header[8] != field)
        {
            truncation = header[8];
            if (header.Length > 9 && header[9] != field)
            {
                return false; // MSH-2 holds at most five characters
            }
        }

        // Some old senders declare only three or four encoding characters: "MSH|^~\|" is seen in the wild.
        if (subcomponent == field)
        {
            subcomponent = 0;
            if (escape == field)
            {
                escape = 0;
            }
        }

        Span<byte> all = [field, component, repetition, escape, subcomponent, truncation];
        for (int i = 0; i < all.Length; i++)
        {
            byte b = all[i];
            if (b == 0)
            {
                if (i < 3)
                {
                    return false;
                }

                continue;
            }

            if (!IsUsable(b))
            {
                return false;
            }

            for (int j = 0; j < i; j++)
            {
                if (all[j] == b)
                {
                    return false;
                }
            }
        }

        delimiters = new Delimiters(field, component, repetition, escape, subcomponent, truncation);
        return true;
    }

    private static bool IsUsable(byte b) =>
        b is > 0x20 and < 0x7F && !(b is >= (byte)'0' and <= (byte)'9') && !(b is >= (byte)'A' and <= (byte)'Z')
        && !(b is >= (byte)'a' and <= (byte)'z');

    /// <summary>MSH-2 as sent (four or five characters).</summary>
    public string EncodingCharacters
    {
        get
        {
            Span<char> chars = stackalloc char[5];
            int n = 0;
            chars[n++] = (char)Component;
            chars[n++] = (char)Repetition;
            if (Escape != 0)
            {
                chars[n++] = (char)Escape;
            }

            if (Subcomponent != 0)
            {
                chars[n++] = (char)Subcomponent;
            }

            if (Truncation != 0)
            {
                chars[n++] = (char)Truncation;
            }

            return new string(chars[..n]);
        }
    }
}
