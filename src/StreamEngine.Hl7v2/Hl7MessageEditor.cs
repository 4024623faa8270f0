using System.Buffers;
using System.Text;

namespace StreamEngine.Hl7v2;

/// <summary>
/// Builds and edits messages. Segments that are not edited are written back byte for byte, terminators and all,
/// so an unmodified message re-encodes identically. An edited segment is re-encoded from its fields with the
/// message's delimiters; values are escaped on write. Paths follow <see cref="Hl7Path"/>.
/// </summary>
public sealed class Hl7MessageEditor
{
    private readonly Delimiters _d;
    private readonly Encoding _encoding;
    private readonly ReadOnlyMemory<byte> _preamble;
    private readonly List<Slot> _segments = [];

    /// <summary>Edits a parsed message.</summary>
    public Hl7MessageEditor(Hl7Message source)
    {
        ArgumentNullException.ThrowIfNull(source);
        _d = source.Delimiters;
        _encoding = source.Encoding;
        ReadOnlyMemory<byte> raw = source.Raw;
        _preamble = source.SegmentCount > 0 ? raw[..source.SegmentStart(0)] : raw;
        for (int s = 0; s < source.SegmentCount; s++)
        {
            int end = source.SegmentEnd(s);
            int next = s + 1 < source.SegmentCount ? source.SegmentStart(s + 1) : raw.Length;
            _segments.Add(new Slot(raw[source.SegmentStart(s)..end], raw[end..next], null));
        }
    }

    private Hl7MessageEditor(Delimiters delimiters, Encoding encoding)
    {
        _d = delimiters;
        _encoding = encoding;
    }

    /// <summary>Starts a new message: an MSH with the given delimiters (MSH-1 and MSH-2 filled in).</summary>
    public static Hl7MessageEditor Create(Delimiters? delimiters = null, Encoding? encoding = null)
    {
        var editor = new Hl7MessageEditor(delimiters ?? Delimiters.Default, encoding ?? Hl7Charsets.Utf8);
        editor.AppendSegment("MSH");
        return editor;
    }

    /// <summary>Number of segments.</summary>
    public int SegmentCount => _segments.Count;

    /// <summary>Appends a segment; returns its 0-based index. Fields can then be set by path.</summary>
    public int AppendSegment(string id)
    {
        if (id.Length != 3)
        {
            throw new ArgumentException("A segment id has three characters.", nameof(id));
        }

        if (_segments.Count > 0 && _segments[^1].Terminator.IsEmpty)
        {
            _segments[^1] = _segments[^1] with { Terminator = "\r"u8.ToArray() }; // the old last segment had none
        }

        var fields = new List<string> { id };
        if (id is "MSH" or "FHS" or "BHS")
        {
            fields.Add(_d.EncodingCharacters); // piece 1 is MSH-2; MSH-1 is the separator between
        }

        _segments.Add(new Slot(default, "\r"u8.ToArray(), fields));
        return _segments.Count - 1;
    }

    /// <summary>Removes the n-th (1-based) segment with this id; false when there is none.</summary>
    public bool RemoveSegment(string id, int occurrence = 1)
    {
        int index = Find(id, occurrence);
        if (index < 0)
        {
            return false;
        }

        _segments.RemoveAt(index);
        return true;
    }

    /// <summary>Sets the value at a path (escaping it). Missing repetitions, components and subcomponents are added.</summary>
    public void Set(string path, string? value) => Set(Hl7Path.Parse(path), value);

    /// <summary>Whether the message has the segment a path is in (<see cref="Set(Hl7Path, string?)"/> adds no segment).</summary>
    public bool HasSegmentOf(Hl7Path path) => Find(path.Segment, path.Occurrence) >= 0;

    /// <summary>Sets the value at a path (escaping it).</summary>
    public void Set(Hl7Path path, string? value)
    {
        int index = Find(path.Segment, path.Occurrence);
        if (index < 0)
        {
            throw new InvalidOperationException($"No segment {path.Segment}({path.Occurrence}) to set {path} in.");
        }

        bool header = path.Segment is "MSH" or "FHS" or "BHS";
        if (header && path.Field <= 2)
        {
            throw new InvalidOperationException("MSH-1 and MSH-2 are the delimiters; create the message with other delimiters instead.");
        }

        List<string> fields = Fields(index);
        int piece = header ? path.Field - 1 : path.Field;
        while (fields.Count <= piece)
        {
            fields.Add(string.Empty);
        }

        string escaped = value is null ? string.Empty : Hl7Escaping.Encode(value, _d);
        fields[piece] = Replace(fields[piece], path, escaped);
    }

    /// <summary>Clears the value at a path.</summary>
    public void Clear(string path) => Set(path, null);

    /// <summary>The message bytes: untouched segments as they were, edited ones re-encoded.</summary>
    public byte[] ToBytes()
    {
        var output = new ArrayBufferWriter<byte>(256);
        output.Write(_preamble.Span);
        foreach (Slot slot in _segments)
        {
            if (slot.Fields is null)
            {
                output.Write(slot.Original.Span);
            }
            else
            {
                output.Write(_encoding.GetBytes(Join(slot.Fields)));
            }

            output.Write(slot.Terminator.Span);
        }

        return output.WrittenSpan.ToArray();
    }

    private string Join(List<string> fields)
    {
        char f = (char)_d.Field;
        bool header = fields[0] is "MSH" or "FHS" or "BHS";
        var sb = new StringBuilder(fields[0]);
        for (int i = 1; i < fields.Count; i++)
        {
            sb.Append(f).Append(fields[i]);
        }

        if (header && fields.Count == 2)
        {
            sb.Append(f); // "MSH|^~\&|": MSH-3 exists, empty
        }

        return sb.ToString();
    }

    private int Find(string id, int occurrence)
    {
        int seen = 0;
        for (int i = 0; i < _segments.Count; i++)
        {
            if (SegmentId(i) == id && ++seen == occurrence)
            {
                return i;
            }
        }

        return -1;
    }

    private string SegmentId(int index)
    {
        Slot slot = _segments[index];
        if (slot.Fields is not null)
        {
            return slot.Fields[0];
        }

        ReadOnlySpan<byte> span = slot.Original.Span;
        int end = span.IndexOf(_d.Field);
        return _encoding.GetString(end < 0 ? span : span[..end]);
    }

    // The fields (pieces) of a segment, materialised for editing on first use.
    private List<string> Fields(int index)
    {
        Slot slot = _segments[index];
        if (slot.Fields is not null)
        {
            return slot.Fields;
        }

        var fields = new List<string>(_encoding.GetString(slot.Original.Span).Split((char)_d.Field));
        _segments[index] = slot with { Fields = fields };
        return fields;
    }

    // Replaces the addressed part of one field's raw (escaped) text.
    private string Replace(string field, Hl7Path path, string escaped)
    {
        if (path.Component == 0 && path.Repetition == 1 && !field.Contains((char)_d.Repetition, StringComparison.Ordinal))
        {
            return escaped;
        }

        List<string> repetitions = [.. field.Split((char)_d.Repetition)];
        Pad(repetitions, path.Repetition);
        if (path.Component == 0)
        {
            repetitions[path.Repetition - 1] = escaped;
        }
        else
        {
            List<string> components = [.. repetitions[path.Repetition - 1].Split((char)_d.Component)];
            Pad(components, path.Component);
            if (path.Subcomponent == 0 || _d.Subcomponent == 0)
            {
                components[path.Component - 1] = escaped;
            }
            else
            {
                List<string> subcomponents = [.. components[path.Component - 1].Split((char)_d.Subcomponent)];
                Pad(subcomponents, path.Subcomponent);
                subcomponents[path.Subcomponent - 1] = escaped;
                components[path.Component - 1] = string.Join((char)_d.Subcomponent, TrimEnd(subcomponents));
            }

            repetitions[path.Repetition - 1] = string.Join((char)_d.Component, TrimEnd(components));
        }

        return string.Join((char)_d.Repetition, repetitions);
    }

    private static void Pad(List<string> parts, int count)
    {
        while (parts.Count < count)
        {
            parts.Add(string.Empty);
        }
    }

    // Trailing empty parts carry nothing: "A^B^^" is written "A^B".
    private static List<string> TrimEnd(List<string> parts)
    {
        int n = parts.Count;
        while (n > 1 && parts[n - 1].Length == 0)
        {
            n--;
        }

        return n == parts.Count ? parts : parts[..n];
    }

    private sealed record Slot(ReadOnlyMemory<byte> Original, ReadOnlyMemory<byte> Terminator, List<string>? Fields);
}
