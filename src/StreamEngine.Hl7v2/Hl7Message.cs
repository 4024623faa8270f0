using System.Text;

namespace StreamEngine.Hl7v2;

/// <summary>
/// One parsed HL7 v2 message: an index of segment and field positions over the original bytes. No field text is
/// copied until a caller asks for it. The raw buffer must not change while the message is in use.
/// </summary>
public sealed class Hl7Message
{
    // Invariant: for segment s, _fieldStarts[_segmentFirstField[s] + k] is the offset in Raw of the k-th piece of the
    // segment split on the field separator (piece 0 is the segment id). A piece ends one byte before the next piece
    // starts, and the last piece ends at the segment end.
    private readonly int[] _segmentStart;
    private readonly int[] _segmentEnd;
    private readonly int[] _segmentFirstField;
    private readonly int[] _fieldStarts;

    internal Hl7Message(ReadOnlyMemory<byte> raw, Delimiters delimiters, Encoding encoding, int[] segmentStart, int[] segmentEnd,
        int[] segmentFirstField, int[] fieldStarts, int segmentCount)
    {
        Raw = raw;
        Delimiters = delimiters;
        Encoding = encoding;
        _segmentStart = segmentStart;
        _segmentEnd = segmentEnd;
        _segmentFirstField = segmentFirstField;
        _fieldStarts = fieldStarts;
        SegmentCount = segmentCount;
    }

    /// <summary>The bytes the message was parsed from, byte for byte.</summary>
    public ReadOnlyMemory<byte> Raw { get; }

    /// <summary>The encoding characters declared in MSH-1/MSH-2.</summary>
    public Delimiters Delimiters { get; }

    /// <summary>The character set text is decoded with (MSH-18, or the fallback).</summary>
    public Encoding Encoding { get; }

    /// <summary>Number of segments, MSH included.</summary>
    public int SegmentCount { get; }

    /// <summary>The segment at a 0-based position.</summary>
    public Hl7Segment this[int index] => (uint)index < (uint)SegmentCount
        ? new Hl7Segment(this, index)
        : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>The MSH segment (always the first).</summary>
    public Hl7Segment Msh => new(this, 0);

    /// <summary>MSH-9 as sent, e.g. <c>ADT^A01^ADT_A01</c>.</summary>
    public string MessageType => Msh.Field(9).RawText;

    /// <summary>MSH-9.1, e.g. <c>ADT</c>.</summary>
    public string MessageCode => Msh.Field(9).Component(1).ToString();

    /// <summary>MSH-9.2, e.g. <c>A01</c>.</summary>
    public string TriggerEvent => Msh.Field(9).Component(2).ToString();

    /// <summary>MSH-10.</summary>
    public string ControlId => Msh.Field(10).ToString();

    /// <summary>MSH-12.1, e.g. <c>2.5.1</c>.</summary>
    public string Version => Msh.Field(12).Component(1).ToString();

    /// <summary>Segments in order.</summary>
    public SegmentEnumerator GetEnumerator() => new(this, default);

    /// <summary>Segments with the given id, in order.</summary>
    public SegmentEnumerable Segments(string id) => new(this, id);

    /// <summary>The n-th (1-based) segment with the given id, or null when there are fewer.</summary>
    public Hl7Segment? FindSegment(ReadOnlySpan<char> id, int occurrence = 1)
    {
        int seen = 0;
        for (int i = 0; i < SegmentCount; i++)
        {
            if (SegmentIdEquals(i, id) && ++seen == occurrence)
            {
                return new Hl7Segment(this, i);
            }
        }

        return null;
    }

    /// <summary>
    /// Reads a value by path (see <see cref="Hl7Path"/>), e.g. <c>PID-3(2).1</c>. Escapes are decoded.
    /// Returns null when the segment or the value is absent or empty.
    /// </summary>
    public string? Get(string path) => Hl7Path.Parse(path).Evaluate(this);

    internal ReadOnlySpan<byte> SegmentSpan(int segment) =>
        Raw.Span[_segmentStart[segment].._segmentEnd[segment]];

    internal int SegmentStart(int segment) => _segmentStart[segment];

    internal int SegmentEnd(int segment) => _segmentEnd[segment];

    internal int PieceCount(int segment) =>
        (segment + 1 < SegmentCount ? _segmentFirstField[segment + 1] : _fieldStarts.Length) - _segmentFirstField[segment];

    /// <summary>Offset and length in Raw of the k-th piece (split on the field separator) of a segment.</summary>
    internal (int Start, int Length) Piece(int segment, int piece)
    {
        int first = _segmentFirstField[segment];
        int count = PieceCount(segment);
        if ((uint)piece >= (uint)count)
        {
            return (_segmentEnd[segment], 0);
        }

        int start = _fieldStarts[first + piece];
        int end = piece + 1 < count ? _fieldStarts[first + piece + 1] - 1 : _segmentEnd[segment];
        return (start, end - start);
    }

    internal bool SegmentIdEquals(int segment, ReadOnlySpan<char> id)
    {
        var (start, length) = Piece(segment, 0);
        if (length != id.Length)
        {
            return false;
        }

        ReadOnlySpan<byte> bytes = Raw.Span.Slice(start, length);
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != id[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Iterates segments, optionally only those with one id.</summary>
    public struct SegmentEnumerator
    {
        private readonly Hl7Message _message;
        private readonly string? _id;
        private int _index;

        internal SegmentEnumerator(Hl7Message message, string? id)
        {
            _message = message;
            _id = id;
            _index = -1;
        }

        /// <summary>The current segment.</summary>
        public readonly Hl7Segment Current => new(_message, _index);

        /// <summary>Moves to the next (matching) segment.</summary>
        public bool MoveNext()
        {
            while (++_index < _message.SegmentCount)
            {
                if (_id is null || _message.SegmentIdEquals(_index, _id))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>The segments with one id: <c>foreach</c> without allocation, LINQ with.</summary>
    public readonly struct SegmentEnumerable(Hl7Message message, string id) : IEnumerable<Hl7Segment>
    {
        /// <summary>Gets the enumerator.</summary>
        public SegmentEnumerator GetEnumerator() => new(message, id);

        IEnumerator<Hl7Segment> IEnumerable<Hl7Segment>.GetEnumerator()
        {
            SegmentEnumerator e = GetEnumerator();
            while (e.MoveNext())
            {
                yield return e.Current;
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => ((IEnumerable<Hl7Segment>)this).GetEnumerator();
    }
}
