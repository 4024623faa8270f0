using System.Buffers;
using System.Text;

namespace StreamEngine.Hl7v2;

/// <summary>HL7 v2 escape sequences (chapter 2.7): decoded on read, encoded on write.</summary>
public static class Hl7Escaping
{
    /// <summary>
    /// Decodes escapes and the charset. Unknown or unterminated escapes are kept as sent (lenient, as receivers
    /// must be); <see cref="FindInvalid"/> reports them.
    /// </summary>
    public static string Decode(ReadOnlySpan<byte> value, Delimiters delimiters, Encoding encoding)
    {
        if (delimiters.Escape == 0 || value.IndexOf(delimiters.Escape) < 0)
        {
            return encoding.GetString(value);
        }

        byte[]? rented = null;
        Span<byte> buffer = value.Length <= 512 ? stackalloc byte[512] : (rented = ArrayPool<byte>.Shared.Rent(value.Length));
        try
        {
            int n = Unescape(value, delimiters, buffer);
            return encoding.GetString(buffer[..n]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// Returns the offset of the first escape sequence that is unterminated or unknown, or -1. Used by validation;
    /// decoding stays lenient.
    /// </summary>
    public static int FindInvalid(ReadOnlySpan<byte> value, Delimiters delimiters)
    {
        byte esc = delimiters.Escape;
        if (esc == 0)
        {
            return -1;
        }

        int i = 0;
        while (i < value.Length)
        {
            int at = value[i..].IndexOf(esc);
            if (at < 0)
            {
                return -1;
            }

            int open = i + at;
            int close = value[(open + 1)..].IndexOf(esc);
            if (close < 0)
            {
                return open;
            }

            ReadOnlySpan<byte> body = value.Slice(open + 1, close);
            if (!IsKnown(body))
            {
                return open;
            }

            i = open + close + 2;
        }

        return -1;
    }

    private static bool IsKnown(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return false;
        }

        switch (body[0])
        {
            case (byte)'F' or (byte)'S' or (byte)'T' or (byte)'R' or (byte)'E' or (byte)'P' or (byte)'H' or (byte)'N':
                return body.Length == 1;
            case (byte)'X':
                return body.Length > 1 && (body.Length - 1) % 2 == 0 && IsHex(body[1..]);
            case (byte)'C' or (byte)'M':
                return body.Length > 1 && IsHex(body[1..]);
            case (byte)'.':
                return body.Length > 1;
            default:
                return false;
        }
    }

    private static bool IsHex(ReadOnlySpan<byte> s)
    {
        foreach (byte b in s)
        {
            if (!char.IsAsciiHexDigit((char)b))
            {
                return false;
            }
        }

        return true;
    }

    private static int Unescape(ReadOnlySpan<byte> value, Delimiters d, Span<byte> output)
    {
        byte esc = d.Escape;
        int o = 0;
        int i = 0;
        while (i < value.Length)
        {
            int at = value[i..].IndexOf(esc);
            if (at < 0)
            {
                value[i..].CopyTo(output[o..]);
                o += value.Length - i;
                break;
            }

            value.Slice(i, at).CopyTo(output[o..]);
            o += at;
            int open = i + at;
            int close = value[(open + 1)..].IndexOf(esc);
            if (close < 0)
            {
                // Unterminated: keep the rest as sent.
                value[open..].CopyTo(output[o..]);
                o += value.Length - open;
                break;
            }

            ReadOnlySpan<byte> body = value.Slice(open + 1, close);
            int written = Expand(body, d, output[o..]);
            if (written < 0)
            {
                // Unknown: keep the sequence as sent.
                value.Slice(open, close + 2).CopyTo(output[o..]);
                o += close + 2;
            }
            else
            {
                o += written;
            }

            i = open + close + 2;
        }

        return o;
    }

    // Writes the expansion of one escape body; returns bytes written, or -1 for an unknown sequence.
    // Every expansion is no longer than the sequence it replaces, so output never outgrows the input length.
    private static int Expand(ReadOnlySpan<byte> body, Delimiters d, Span<byte> output)
    {
        if (body.Length == 1)
        {
            byte? b = body[0] switch
            {
                (byte)'F' => d.Field,
                (byte)'S' => d.Component,
                (byte)'T' => d.Subcomponent != 0 ? d.Subcomponent : null,
                (byte)'R' => d.Repetition,
                (byte)'E' => d.Escape,
                (byte)'P' => d.Truncation != 0 ? d.Truncation : null,
                _ => null,
            };
            if (b is { } single)
            {
                output[0] = single;
                return 1;
            }

            return body[0] is (byte)'H' or (byte)'N' ? 0 : -1; // highlight on/off: no plain-text meaning
        }

        if (body.IsEmpty)
        {
            return -1;
        }

        switch (body[0])
        {
            case (byte)'X' when (body.Length - 1) % 2 == 0 && IsHex(body[1..]):
                int n = 0;
                for (int k = 1; k < body.Length; k += 2)
                {
                    output[n++] = (byte)((HexValue(body[k]) << 4) | HexValue(body[k + 1]));
                }

                return n;
            case (byte)'C' or (byte)'M' when IsHex(body[1..]):
                return 0; // character-set switches: the text around them is decoded with the message charset
            case (byte)'.':
                ReadOnlySpan<byte> command = body[1..];
                if (command.SequenceEqual("br"u8) || command.StartsWith("sp"u8))
                {
                    output[0] = (byte)'\n';
                    return 1;
                }

                return 0; // other formatting commands (.in, .ti, .sk, .fi, .nf, .ce) carry no text
            default:
                return -1;
        }
    }

    private static int HexValue(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;

    /// <summary>
    /// Escapes text for writing into a field: delimiters become \F\ \S\ \T\ \R\ \E\ (and \P\ for a declared
    /// truncation character); line breaks become \.br\.
    /// </summary>
    public static string Encode(string text, Delimiters d)
    {
        if (text.AsSpan().IndexOfAny([(char)d.Field, (char)d.Component, (char)d.Repetition, (char)d.Escape, '\r', '\n']) < 0
            && (d.Subcomponent == 0 || !text.Contains((char)d.Subcomponent, StringComparison.Ordinal))
            && (d.Truncation == 0 || !text.Contains((char)d.Truncation, StringComparison.Ordinal)))
        {
            return text;
        }

        var sb = new StringBuilder(text.Length + 16);
        char e = (char)d.Escape;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            string? code = c == d.Field ? "F" : c == d.Component ? "S" : c == d.Repetition ? "R" : c == d.Escape ? "E"
                : d.Subcomponent != 0 && c == d.Subcomponent ? "T" : d.Truncation != 0 && c == d.Truncation ? "P" : null;
            if (code is not null)
            {
                sb.Append(e).Append(code).Append(e);
            }
            else if (c == '\r' || c == '\n')
            {
                if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
                {
                    i++;
                }

                sb.Append(e).Append(".br").Append(e);
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }
}
