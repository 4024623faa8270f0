namespace StreamEngine.Hl7v2;

/// <summary>How deep a value sits: field, repetition, component or subcomponent.</summary>
public enum Hl7Level
{
    /// <summary>A whole field, with all its repetitions.</summary>
    Field,

    /// <summary>One repetition of a field.</summary>
    Repetition,

    /// <summary>One component.</summary>
    Component,

    /// <summary>One subcomponent.</summary>
    Subcomponent,
}

/// <summary>
/// A value inside a message: a slice of the raw bytes and its level. Narrowing (repetition, component,
/// subcomponent) is a scan of the slice, never a copy; <see cref="ToString"/> decodes escapes and the charset.
/// Asking for a part that is not there gives an empty value, as HL7 treats absent and empty alike.
/// </summary>
public readonly struct Hl7Value
{
    private readonly Hl7Message? _message;
    private readonly int _start;
    private readonly bool _literal;

    internal Hl7Value(Hl7Message message, int start, int length, Hl7Level level, bool literal = false)
    {
        _message = message;
        _start = start;
        Length = length;
        Level = level;
        _literal = literal;
    }

    /// <summary>Length in bytes of the value as sent (escapes not decoded).</summary>
    public int Length { get; }

    /// <summary>The level of this value.</summary>
    public Hl7Level Level { get; }

    /// <summary>The bytes as sent, escapes included.</summary>
    public ReadOnlySpan<byte> Span => _message is null ? default : _message.RawSpan.Slice(_start, Length);

    /// <summary>True when nothing was sent.</summary>
    public bool IsEmpty => Length == 0;

    /// <summary>True for the HL7 explicit null <c>""</c> (delete the value at the receiver).</summary>
    public bool IsNull => Length == 2 && Span[0] == (byte)'"' && Span[1] == (byte)'"';

    /// <summary>The n-th (1-based) repetition of a field. Narrower values are their own only repetition.</summary>
    public Hl7Value Repetition(int n)
    {
        if (_message is null)
        {
            return default;
        }

        if (Level != Hl7Level.Field || _literal)
        {
            return n == 1 ? this : Empty(Hl7Level.Repetition);
        }

        return Narrow(_message!.Delimiters.Repetition, n, Hl7Level.Repetition);
    }

    /// <summary>The n-th (1-based) component; of the first repetition when this is a whole field.</summary>
    public Hl7Value Component(int n)
    {
        if (_message is null)
        {
            return default;
        }

        if (_literal)
        {
            return n == 1 ? this : Empty(Hl7Level.Component);
        }

        return Level switch
        {
            Hl7Level.Field => FirstRepetitionComponent(n),
            Hl7Level.Repetition => Narrow(_message!.Delimiters.Component, n, Hl7Level.Component),
            _ => n == 1 ? this : Empty(Hl7Level.Component),
        };
    }

    /// <summary>The n-th (1-based) subcomponent; of the first component when this is wider.</summary>
    public Hl7Value Subcomponent(int n)
    {
        if (_message is null)
        {
            return default;
        }

        if (_literal)
        {
            return n == 1 ? this : Empty(Hl7Level.Subcomponent);
        }

        return Level switch
        {
            Hl7Level.Field or Hl7Level.Repetition => Component(1).Subcomponent(n),
            Hl7Level.Component when _message!.Delimiters.Subcomponent != 0 => Narrow(_message.Delimiters.Subcomponent, n, Hl7Level.Subcomponent),
            _ => n == 1 ? this : Empty(Hl7Level.Subcomponent),
        };
    }

    /// <summary>Number of repetitions (0 for an empty field).</summary>
    public int RepetitionCount => IsEmpty ? 0 : Level != Hl7Level.Field || _literal ? 1 : Span.Count(_message!.Delimiters.Repetition) + 1;

    /// <summary>The text with escape sequences decoded and the message's charset applied.</summary>
    public override string ToString()
    {
        if (_message is null || Length == 0)
        {
            return string.Empty;
        }

        return _literal
            ? _message.Encoding.GetString(Span)
            : Hl7Escaping.Decode(Span, _message.Delimiters, _message.Encoding);
    }

    /// <summary>The text as sent: charset applied, escape sequences left as they are.</summary>
    public string RawText => _message is null || Length == 0 ? string.Empty : _message.Encoding.GetString(Span);

    private Hl7Value Narrow(byte separator, int n, Hl7Level level)
    {
        if (n < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(n), "HL7 positions are numbered from 1.");
        }

        ReadOnlySpan<byte> span = Span;
        int offset = 0;
        for (int i = 1; i < n; i++)
        {
            int next = Find(span[offset..], separator);
            if (next < 0)
            {
                return Empty(level);
            }

            offset += next + 1;
        }

        int end = Find(span[offset..], separator);
        int length = end < 0 ? span.Length - offset : end;
        return new Hl7Value(_message!, _start + offset, length, level);
    }

    // Component n of a field's first repetition in one scan: the same value as Repetition(1).Component(n), which scans
    // the whole first repetition to find its end and then its components again (mappings read a field's components one
    // after another, so this is most of their reads).
    private Hl7Value FirstRepetitionComponent(int n)
    {
        if (n < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(n), "HL7 positions are numbered from 1.");
        }

        ReadOnlySpan<byte> span = Span;
        byte repetition = _message!.Delimiters.Repetition;
        byte component = _message.Delimiters.Component;
        int offset = 0; // where component `index` starts
        int index = 1;
        while (true)
        {
            int next = Find(span[offset..], repetition, component);
            if (next < 0)
            {
                // the first repetition, and this component, run to the end of the field
                return index == n ? new Hl7Value(_message, _start + offset, span.Length - offset, Hl7Level.Component) : Empty(Hl7Level.Component);
            }

            if (index == n)
            {
                return new Hl7Value(_message, _start + offset, next, Hl7Level.Component);
            }

            if (span[offset + next] == repetition)
            {
                return Empty(Hl7Level.Component); // the first repetition ended before component n
            }

            offset += next + 1;
            index++;
        }
    }

    // Where the first of two separators is (the caller tells which): the vectorised search for long pieces, as Find.
    private static int Find(ReadOnlySpan<byte> span, byte first, byte second)
    {
        if (span.Length > 32)
        {
            return span.IndexOfAny(first, second);
        }

        for (int i = 0; i < span.Length; i++)
        {
            byte b = span[i];
            if (b == first || b == second)
            {
                return i;
            }
        }

        return -1;
    }

    // IndexOf for the short pieces most reads narrow (a name's component, a code): a plain loop there, where the vectorised
    // search's set-up costs more than it saves (a mapping makes hundreds of these reads per message); the vectorised
    // search for anything longer (a report's text, an embedded document).
    private static int Find(ReadOnlySpan<byte> span, byte separator)
    {
        if (span.Length > 32)
        {
            return span.IndexOf(separator);
        }

        for (int i = 0; i < span.Length; i++)
        {
            if (span[i] == separator)
            {
                return i;
            }
        }

        return -1;
    }

    private Hl7Value Empty(Hl7Level level) => _message is null ? default : new Hl7Value(_message, _start, 0, level);
}
