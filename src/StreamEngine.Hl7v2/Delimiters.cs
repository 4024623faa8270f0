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
        if (header.Length < 6)
        {
            return false;
        }

        byte field = header[3];
        // MSH-2 runs from after the field separator to the next one (or the segment end): 2 to 5 characters.
        scoped ReadOnlySpan<byte> encoding = header[4..];
        int end = encoding.IndexOf(field);
        if (end >= 0)
        {
            encoding = encoding[..end];
        }

        Span<byte> fixedEncoding = stackalloc byte[4];
        if (encoding.Length == 5 && encoding[2] == (byte)'\\' && encoding[3] == (byte)'\\')
        {
            // "^~\\&": a doubled escape character, a string-literal artefact seen in real feeds. Read as "^~\&".
            fixedEncoding[0] = encoding[0];
            fixedEncoding[1] = encoding[1];
            fixedEncoding[2] = encoding[2];
            fixedEncoding[3] = encoding[4];
            encoding = fixedEncoding;
            repaired = true;
        }

        if (encoding.Length is < 2 or > 5)
        {
            return false;
        }

        byte component = encoding[0];
        byte repetition = encoding[1];
        byte escape = encoding.Length > 2 ? encoding[2] : (byte)0;
        byte subcomponent = encoding.Length > 3 ? encoding[3] : (byte)0;
        byte truncation = encoding.Length > 4 ? encoding[4] : (byte)0;

        Span<byte> all = [field, component, repetition, escape, subcomponent, truncation];
        for (int i = 0; i < all.Length; i++)
        {
            byte b = all[i];
            if (b == 0)
            {
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
