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
    // starts, and the last piece ends at the segment end. Entries past the counts are stale: the arrays are reused
    // when the message is re-parsed (Hl7Parser.TryParse with an existing instance), so a pooled index allocates nothing.
    private int[] _segmentStart;
    private int[] _segmentEnd;
    private int[] _segmentFirstField;
    private int[] _fieldStarts;
    private int _fieldCount;

    // Issues of the last parse into this instance, reused by the next one (so a pooled parse allocates nothing).
    internal List<Hl7Issue>? ReusableIssues { get; set; }

    /// <summary>An empty message to parse into and reuse (see <see cref="Hl7Parser.TryParse(ReadOnlyMemory{byte}, Hl7Message, out IReadOnlyList{Hl7Issue}, Hl7ParseOptions?)"/>).</summary>
    public Hl7Message()
    {
        _segmentStart = new int[16];
        _segmentEnd = new int[16];
        _segmentFirstField = new int[16];
        _fieldStarts = new int[256];
        Encoding = Hl7Charsets.Utf8;
    }

    /// <summary>The bytes the message was parsed from, byte for byte.</summary>
    public ReadOnlyMemory<byte> Raw { get; private set; }

    // Raw's array when it has one (the parse of a journaled or received frame always does): every value read slices it,
    // and slicing an array directly skips ReadOnlyMemory's checks of what it wraps on each of the hundreds of reads a
    // mapping makes.
    private byte[]? _rawArray;
    private int _rawOffset;

    // MSH-9.1, MSH-9.2 and MSH-10, decoded once per parse: routing, ids and Provenance each ask for them.
    private string? _messageCode;
    private string? _triggerEvent;
    private string? _controlId;

    /// <summary>The raw bytes as a span (what <see cref="Raw"/><c>.Span</c> gives, without its per-call checks).</summary>
    internal ReadOnlySpan<byte> RawSpan => _rawArray is { } array ? new ReadOnlySpan<byte>(array, _rawOffset, Raw.Length) : Raw.Span;

    /// <summary>The encoding characters declared in MSH-1/MSH-2.</summary>
    public Delimiters Delimiters { get; private set; }

    /// <summary>The character set text is decoded with (MSH-18, or the fallback).</summary>
    public Encoding Encoding
    {
        get => _encoding;
        internal set
        {
            _encoding = value;
            _messageCode = _triggerEvent = _controlId = null; // decoded with the charset they were read in
        }
    }

    private Encoding _encoding = Hl7Charsets.Utf8;

    /// <summary>Number of segments, MSH included.</summary>
    public int SegmentCount { get; private set; }

    /// <summary>True when the last segment was followed by a terminator (CR, LF or CRLF).</summary>
    public bool EndsWithTerminator { get; private set; }

    internal void Reset(ReadOnlyMemory<byte> raw, Delimiters delimiters)
    {
        Raw = raw;
        if (System.Runtime.InteropServices.MemoryMarshal.TryGetArray(raw, out ArraySegment<byte> segment))
        {
            _rawArray = segment.Array;
            _rawOffset = segment.Offset;
        }
        else
        {
            _rawArray = null;
            _rawOffset = 0;
        }

        Delimiters = delimiters;
        Encoding = Hl7Charsets.Utf8; // also forgets the previous message's MSH-9 and MSH-10
        SegmentCount = 0;
        _fieldCount = 0;
        EndsWithTerminator = false;
    }

    // Begins a segment at 'start': its piece 0 starts there.
    internal void BeginSegment(int start)
    {
        int s = SegmentCount;
        if (s == _segmentStart.Length)
        {
            Array.Resize(ref _segmentStart, s * 2);
            Array.Resize(ref _segmentEnd, s * 2);
            Array.Resize(ref _segmentFirstField, s * 2);
        }

        _segmentStart[s] = start;
        _segmentFirstField[s] = _fieldCount;
        AddPiece(start);
    }

    internal void AddPiece(int start)
    {
        if (_fieldCount == _fieldStarts.Length)
        {
            Array.Resize(ref _fieldStarts, _fieldCount * 2);
        }

        _fieldStarts[_fieldCount++] = start;
    }

    internal void EndSegment(int end)
    {
        _segmentEnd[SegmentCount] = end;
        SegmentCount++;
    }

    // Drops a segment begun but not ended (over the limits).
    internal void AbandonSegment() => _fieldCount = _segmentFirstField[SegmentCount];

    internal void MarkTerminated(bool terminated) => EndsWithTerminator = terminated;

    /// <summary>The 0-based segment and 1-based field (HL7 numbering) of a byte offset in Raw, for issue positions.</summary>
    internal (int Segment, int Field) PositionOf(int offset)
    {
        for (int s = 0; s < SegmentCount; s++)
        {
            if (offset >= _segmentStart[s] && offset <= _segmentEnd[s])
            {
                int first = _segmentFirstField[s];
                int count = PieceCount(s);
                int piece = 0;
                while (piece + 1 < count && _fieldStarts[first + piece + 1] <= offset)
                {
                    piece++;
                }

                bool header = SegmentIdEquals(s, "MSH") || SegmentIdEquals(s, "FHS") || SegmentIdEquals(s, "BHS");
                return (s, header && piece > 0 ? piece + 1 : piece);
            }
        }

        return (-1, 0);
    }

    /// <summary>The segment at a 0-based position.</summary>
    public Hl7Segment this[int index] => (uint)index < (uint)SegmentCount
        ? new Hl7Segment(this, index)
        : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>The MSH segment (always the first); an empty segment when the message has none (a failed parse).</summary>
    public Hl7Segment Msh => SegmentCount > 0 ? new(this, 0) : default;

    /// <summary>MSH-9 as sent, e.g. <c>ADT^A01^ADT_A01</c>.</summary>
    public string MessageType => Msh.Field(9).RawText;

    /// <summary>MSH-9.1, e.g. <c>ADT</c>.</summary>
    public string MessageCode => _messageCode ??= Msh.Field(9).Component(1).ToString();

    /// <summary>MSH-9.2, e.g. <c>A01</c>.</summary>
    public string TriggerEvent => _triggerEvent ??= Msh.Field(9).Component(2).ToString();

    /// <summary>MSH-10.</summary>
    public string ControlId => _controlId ??= Msh.Field(10).ToString();

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
        RawSpan[_segmentStart[segment].._segmentEnd[segment]];

    internal int SegmentStart(int segment) => _segmentStart[segment];

    internal int SegmentEnd(int segment) => _segmentEnd[segment];

    internal int PieceCount(int segment) =>
        (segment + 1 < SegmentCount ? _segmentFirstField[segment + 1] : _fieldCount) - _segmentFirstField[segment];

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

        ReadOnlySpan<byte> bytes = RawSpan.Slice(start, length);
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
