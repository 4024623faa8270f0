namespace StreamEngine.Hl7v2;

/// <summary>A segment of a parsed message: a position, not a copy.</summary>
public readonly struct Hl7Segment
{
    private readonly Hl7Message _message;

    internal Hl7Segment(Hl7Message message, int index)
    {
        _message = message;
        Index = index;
    }

    /// <summary>0-based position of the segment in its message.</summary>
    public int Index { get; }

    /// <summary>The segment id, e.g. <c>PID</c> or <c>ZU1</c>.</summary>
    /// <remarks>Ids of three ASCII letters or digits (every id a parse accepts) come from a shared table, not a new string per call.</remarks>
    public string Id => _message is null ? string.Empty : SegmentIds.Of(IdSpan, _message.Encoding);

    /// <summary>The segment id as bytes.</summary>
    public ReadOnlySpan<byte> IdSpan
    {
        get
        {
            if (_message is null)
            {
                return default;
            }

            var (start, length) = _message.Piece(Index, 0);
            return _message.RawSpan.Slice(start, length);
        }
    }

    /// <summary>The whole segment as sent, without its terminator.</summary>
    public ReadOnlySpan<byte> Span => _message is null ? default : _message.SegmentSpan(Index);

    /// <summary>True when the segment is a header whose field 1 is the field separator itself (MSH, FHS, BHS).</summary>
    public bool IsHeader
    {
        get
        {
            ReadOnlySpan<byte> id = IdSpan;
            return id.SequenceEqual("MSH"u8) || id.SequenceEqual("FHS"u8) || id.SequenceEqual("BHS"u8);
        }
    }

    /// <summary>Number of the last field present, numbered as HL7 numbers them.</summary>
    public int FieldCount => _message is null ? 0 : IsHeader ? _message.PieceCount(Index) : _message.PieceCount(Index) - 1;

    /// <summary>
    /// Field n (1-based, as HL7 numbers fields). For MSH, FHS and BHS, field 1 is the field separator and field 2
    /// the encoding characters. A field that is not present is an empty value.
    /// </summary>
    public Hl7Value Field(int n)
    {
        if (n < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(n), "HL7 fields are numbered from 1.");
        }

        if (_message is null)
        {
            return default;
        }

        if (IsHeader)
        {
            if (n == 1)
            {
                // MSH-1 is the separator itself, which sits just after the segment id (absent in a bare "MSH").
                int at = _message.SegmentStart(Index) + 3;
                return at < _message.SegmentEnd(Index)
                    ? new Hl7Value(_message, at, 1, Hl7Level.Field, literal: true)
                    : new Hl7Value(_message, _message.SegmentEnd(Index), 0, Hl7Level.Field, literal: true);
            }

            var (s, l) = _message.Piece(Index, n - 1);
            return new Hl7Value(_message, s, l, Hl7Level.Field, literal: n == 2);
        }

        var (start, length) = _message.Piece(Index, n);
        return new Hl7Value(_message, start, length, Hl7Level.Field);
    }

    /// <inheritdoc />
    public override string ToString() => Id;
}
