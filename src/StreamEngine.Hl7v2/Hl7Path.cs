using System.Globalization;

namespace StreamEngine.Hl7v2;

/// <summary>
/// A path to a value, as integration engineers write them in NHapi's Terser and Mirth:
/// <c>SEG[(occurrence)]-field[(repetition)][.component[.subcomponent]]</c>. Every index is 1-based.
/// <c>PID-3(2).1</c> is component 1 of the second repetition of PID-3; <c>OBX(3)-5</c> is OBX-5 of the third OBX;
/// <c>-</c> may stand for <c>.</c> between field, component and subcomponent (<c>PID-5-1</c>).
/// A missing occurrence or repetition means the first; a missing component means the whole repetition.
/// </summary>
public readonly record struct Hl7Path(string Segment, int Occurrence, int Field, int Repetition, int Component, int Subcomponent)
{
    /// <summary>Parses a path; throws <see cref="FormatException"/> naming the path when it does not follow the grammar.</summary>
    public static Hl7Path Parse(string path) =>
        TryParse(path, out Hl7Path parsed) ? parsed : throw new FormatException($"'{path}' is not an HL7 path (expected e.g. PID-3(2).1).");

    /// <summary>Parses a path; false when it does not follow the grammar.</summary>
    public static bool TryParse(string? path, out Hl7Path parsed)
    {
        parsed = default;
        if (string.IsNullOrEmpty(path) || path.Length < 5)
        {
            return false;
        }

        ReadOnlySpan<char> s = path.AsSpan().Trim();
        if (s.Length < 5 || !IsIdChar(s[0]) || !IsIdChar(s[1]) || !IsIdChar(s[2]))
        {
            return false;
        }

        string segment = new(s[..3]);
        int i = 3;
        int occurrence = 1;
        if (!TryIndex(s, ref i, out occurrence))
        {
            return false;
        }

        if (i >= s.Length || s[i] != '-')
        {
            return false;
        }

        i++;
        if (!TryNumber(s, ref i, out int field))
        {
            return false;
        }

        if (!TryIndex(s, ref i, out int repetition))
        {
            return false;
        }

        int component = 0;
        int subcomponent = 0;
        if (i < s.Length)
        {
            if (s[i] is not ('.' or '-'))
            {
                return false;
            }

            i++;
            if (!TryNumber(s, ref i, out component))
            {
                return false;
            }

            if (i < s.Length)
            {
                if (s[i] is not ('.' or '-'))
                {
                    return false;
                }

                i++;
                if (!TryNumber(s, ref i, out subcomponent))
                {
                    return false;
                }
            }
        }

        if (i != s.Length)
        {
            return false;
        }

        parsed = new Hl7Path(segment, occurrence, field, repetition, component, subcomponent);
        return true;
    }

    /// <summary>Reads the value this path names, or default (empty) when the segment is absent.</summary>
    public Hl7Value Locate(Hl7Message message)
    {
        if (message.FindSegment(Segment, Occurrence) is not { } segment)
        {
            return default;
        }

        Hl7Value value = segment.Field(Field).Repetition(Repetition);
        if (Component > 0)
        {
            value = value.Component(Component);
            if (Subcomponent > 0)
            {
                value = value.Subcomponent(Subcomponent);
            }
        }

        return value;
    }

    /// <summary>The decoded text at this path, or null when absent or empty.</summary>
    public string? Evaluate(Hl7Message message)
    {
        Hl7Value value = Locate(message);
        return value.IsEmpty ? null : value.ToString();
    }

    /// <inheritdoc />
    public override string ToString()
    {
        string s = Occurrence == 1 ? Segment : string.Create(CultureInfo.InvariantCulture, $"{Segment}({Occurrence})");
        s = string.Create(CultureInfo.InvariantCulture, $"{s}-{Field}");
        if (Repetition != 1)
        {
            s = string.Create(CultureInfo.InvariantCulture, $"{s}({Repetition})");
        }

        if (Component > 0)
        {
            s = string.Create(CultureInfo.InvariantCulture, $"{s}.{Component}");
        }

        if (Subcomponent > 0)
        {
            s = string.Create(CultureInfo.InvariantCulture, $"{s}.{Subcomponent}");
        }

        return s;
    }

    private static bool IsIdChar(char c) => c is >= 'A' and <= 'Z' or >= '0' and <= '9';

    private static bool TryIndex(ReadOnlySpan<char> s, ref int i, out int value)
    {
        value = 1;
        if (i < s.Length && s[i] == '(')
        {
            i++;
            if (!TryNumber(s, ref i, out value) || i >= s.Length || s[i] != ')')
            {
                return false;
            }

            i++;
        }

        return true;
    }

    private static bool TryNumber(ReadOnlySpan<char> s, ref int i, out int value)
    {
        int start = i;
        while (i < s.Length && char.IsAsciiDigit(s[i]))
        {
            i++;
        }

        return int.TryParse(s[start..i], NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= 1 && value <= 100_000;
    }
}
