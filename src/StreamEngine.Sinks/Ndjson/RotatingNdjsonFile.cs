using System.Globalization;

namespace StreamEngine.Sinks.Ndjson;

/// <summary>When an NDJSON output starts a new file.</summary>
/// <param name="MaxBytes">No file grows past this size, unless one line is longer (null: no size limit).</param>
/// <param name="MaxAge">A file older than this is closed at the next flush (null: no age limit).</param>
public sealed record NdjsonRotation(long? MaxBytes, TimeSpan? MaxAge);

/// <summary>
/// An NDJSON output split into files that sort by time: <c>&lt;prefix&gt;.&lt;yyyyMMddTHHmmssfffZ&gt;.ndjson</c>. A file
/// is closed (synced) and the next one started before a line that would take it past its size, or at a flush once it
/// is over its age. Positions are cumulative bytes over all the files in name order (closed files never change), so a
/// sink's recorded position still names one place after any number of rotations, and after a crash every line written
/// past it is found, in whichever file. A file from before rotation was turned on (<c>&lt;prefix&gt;.ndjson</c>) counts as the first.
/// <para>Each new file's starting position is recorded (synced) in <c>&lt;prefix&gt;.starts</c> before the file is made,
/// so an operator may move older files away: the remaining files keep their positions. A file with no record (made
/// before the record existed) starts where the one before it ends.</para>
/// </summary>
public sealed class RotatingNdjsonFile : IDisposable
{
    private readonly string _folder;
    private readonly string _prefix;
    private readonly NdjsonRotation _rotation;
    private readonly Func<DateTimeOffset> _clock;
    private NdjsonFileSink? _current;
    private long _closedBytes;
    private DateTimeOffset _currentStarted;
    private string? _lastName;

    /// <summary>Creates the output; nothing is opened until <see cref="Open"/>.</summary>
    public RotatingNdjsonFile(string folder, string prefix, NdjsonRotation rotation, Func<DateTimeOffset>? clock = null)
    {
        _folder = Path.GetFullPath(folder);
        _prefix = prefix;
        _rotation = rotation;
        _clock = clock ?? (() => DateTimeOffset.UtcNow);
    }

    /// <summary>Cumulative bytes over every file, the current one's unflushed lines included.</summary>
    public long Position => _closedBytes + (_current?.Position ?? 0);

    /// <summary>The files, oldest first.</summary>
    public IReadOnlyList<string> Files()
    {
        if (!Directory.Exists(_folder))
        {
            return [];
        }

        var files = Directory.GetFiles(_folder, _prefix + ".*.ndjson").Where(IsSegment).Order(StringComparer.Ordinal).ToList();
        string legacy = Path.Combine(_folder, _prefix + ".ndjson");
        if (File.Exists(legacy))
        {
            files.Insert(0, legacy);
        }

        return files;
    }

    /// <summary>
    /// Opens the newest file for appending (repairing a line torn by a crash) and returns the <c>meta.source</c> of
    /// every complete line past <paramref name="position"/>, over all files.
    /// </summary>
    public IReadOnlyList<string> Open(long position)
    {
        Directory.CreateDirectory(_folder);
        IReadOnlyList<string> files = Files();
        if (files.Count == 0)
        {
            files = [NewName()];
        }

        IReadOnlyDictionary<string, long> starts = RecordedStarts();
        if (!File.Exists(files[^1]) && !starts.ContainsKey(Path.GetFileName(files[^1])))
        {
            RecordStart(files[^1], 0); // the first file of a new output
        }

        var sources = new List<string>();
        long next = 0; // where the file after the last one read would start
        for (int i = 0; i < files.Count; i++)
        {
            bool last = i == files.Count - 1;
            long start = starts.TryGetValue(Path.GetFileName(files[i]), out long recorded) ? recorded : next;
            var file = new NdjsonFileSink(files[i]);
            file.Open(); // repairs a torn last line (only the newest can have one)
            long length = file.Position;
            next = start + length;
            if (start + length > position)
            {
                sources.AddRange(file.SourcesFrom(Math.Max(0, position - start)));
            }

            if (last)
            {
                _current = file;
                _closedBytes = start;
                _lastName = Path.GetFileName(files[i]);
                _currentStarted = StartedAt(files[i]) ?? _clock();
            }
            else
            {
                file.Dispose();
            }
        }

        return sources;
    }

    /// <summary>
    /// Appends one line to the current file, first starting the next file when the line would take the current one past
    /// its size (a file holds at least one line, so only a line longer than the limit makes a file larger).
    /// </summary>
    public void Append(ReadOnlySpan<byte> json)
    {
        NdjsonFileSink current = _current ?? throw new InvalidOperationException("Not open.");
        if (_rotation.MaxBytes is { } max && current.Position > 0 && current.Position + json.Length + 1 > max)
        {
            current = Rotate(current);
        }

        current.Append(json);
    }

    /// <summary>Flushes the current file; then, if it is over its size or age, closes it and starts the next.</summary>
    public void Flush(bool durable)
    {
        NdjsonFileSink current = _current ?? throw new InvalidOperationException("Not open.");
        current.Flush(durable);
        bool full = _rotation.MaxBytes is { } max && current.Position >= max;
        bool old = _rotation.MaxAge is { } age && current.Position > 0 && _clock() - _currentStarted >= age;
        if (full || old)
        {
            Rotate(current);
        }
    }

    // Closes the current file (synced: a closed file is complete on disk) and starts the next, its start recorded first.
    private NdjsonFileSink Rotate(NdjsonFileSink current)
    {
        long length = current.Position;
        current.Dispose();
        _closedBytes += length;
        string name = NewName();
        RecordStart(name, _closedBytes);
        var next = new NdjsonFileSink(name);
        next.Open();
        _current = next;
        _lastName = Path.GetFileName(next.FilePath);
        _currentStarted = _clock();
        return next;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _current?.Dispose();
        _current = null;
    }

    // <prefix>.<UTC time to the millisecond>.ndjson, always after the previous name.
    private string NewName()
    {
        DateTimeOffset now = _clock();
        while (true)
        {
            string name = $"{_prefix}.{now.UtcDateTime.ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture)}.ndjson";
            // After the previous segment's name (a file from before rotation, <prefix>.ndjson, is not a segment).
            bool after = _lastName is null || !IsSegment(_lastName) || string.CompareOrdinal(name, _lastName) > 0;
            if (after && !File.Exists(Path.Combine(_folder, name)))
            {
                return Path.Combine(_folder, name);
            }

            now = now.AddMilliseconds(1);
        }
    }

    private string StartsFile => Path.Combine(_folder, _prefix + ".starts");

    // One line per file, "<file name> <start>", appended and synced before the file is made, after a line break of its
    // own (so a line torn by a crash never joins the next). A torn line names a file never made: it is ignored, as is
    // one naming a file that is gone.
    private void RecordStart(string path, long start)
    {
        using var stream = new FileStream(StartsFile, FileMode.Append, FileAccess.Write, FileShare.Read);
        byte[] line = System.Text.Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"\n{Path.GetFileName(path)} {start}\n"));
        stream.Write(line);
        stream.Flush(flushToDisk: true);
    }

    private Dictionary<string, long> RecordedStarts()
    {
        var starts = new Dictionary<string, long>(StringComparer.Ordinal);
        if (!File.Exists(StartsFile))
        {
            return starts;
        }

        foreach (string line in File.ReadLines(StartsFile))
        {
            int space = line.LastIndexOf(' ');
            if (space > 0 && long.TryParse(line.AsSpan(space + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long start))
            {
                starts[line[..space]] = start;
            }
        }

        return starts;
    }

    private bool IsSegment(string path)
    {
        string name = Path.GetFileName(path);
        if (name.Length != _prefix.Length + 1 + 19 + ".ndjson".Length || !name.StartsWith(_prefix + ".", StringComparison.Ordinal))
        {
            return false;
        }

        string middle = name[(_prefix.Length + 1)..^".ndjson".Length];
        return middle.Length == 19 && middle[8] == 'T' && middle[^1] == 'Z';
    }

    private DateTimeOffset? StartedAt(string path)
    {
        string name = Path.GetFileName(path);
        if (!IsSegment(path))
        {
            return null;
        }

        string middle = name[(_prefix.Length + 1)..^".ndjson".Length];
        return DateTimeOffset.TryParseExact(middle, "yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset started) ? started : null;
    }
}
