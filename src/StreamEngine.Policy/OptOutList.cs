using System.Collections.Frozen;

namespace StreamEngine.Policy;

/// <summary>
/// The national data opt-out: NHS numbers (one per line; spaces, blank lines and <c>#</c> comments allowed) whose
/// records must not reach a secondary-use sink. The file is re-read when it changes (checked at most once a second),
/// so a new list applies without a restart; a file that cannot be read, or holds a line that is not an NHS number, is
/// refused at start-up and, later, leaves the last good list in force.
/// </summary>
public sealed class OptOutList
{
    private readonly string _path;
    private readonly Lock _gate = new();
    private volatile FrozenSet<string> _numbers = FrozenSet<string>.Empty;
    private DateTime _writtenAt;
    private long _length = -1;
    private long _checkedAt;
    private readonly long _recheckMs;

    /// <summary>Loads the list; throws <see cref="IOException"/> or <see cref="InvalidDataException"/> (naming the line, not its content) at start-up.</summary>
    public OptOutList(string path, TimeSpan? recheck = null)
    {
        _path = path;
        _recheckMs = (long)(recheck ?? TimeSpan.FromSeconds(1)).TotalMilliseconds;
        Reload(force: true);
    }

    /// <summary>Numbers on the list now.</summary>
    public int Count => _numbers.Count;

    /// <summary>True when the NHS number (10 digits) is on the list.</summary>
    public bool Contains(string nhsNumber)
    {
        // A check due to look at the file waits for a look under way: the time of the last look is set once it is done,
        // so no check goes by the old list while another reads the new one (which let a few through after an edit).
        if (Environment.TickCount64 - Interlocked.Read(ref _checkedAt) >= _recheckMs)
        {
            Reload(force: false);
        }

        return _numbers.Contains(nhsNumber);
    }

    private void Reload(bool force)
    {
        string? refused = null;
        lock (_gate)
        {
            if (!force && Environment.TickCount64 - Interlocked.Read(ref _checkedAt) < _recheckMs)
            {
                return; // another check looked while this one waited
            }

            try
            {
                refused = Look(force);
            }
            finally
            {
                Interlocked.Exchange(ref _checkedAt, Environment.TickCount64);
            }
        }

        if (refused is not null)
        {
            ReloadRefused?.Invoke(refused); // outside the lock: the handler is the caller's code
        }
    }

    // Reads the file if it changed (or when forced); the reason it was refused, or null.
    private string? Look(bool force)
    {
        string? refused = null;
        FileSystemInfo info = Directory.Exists(_path) ? new DirectoryInfo(_path) : new FileInfo(_path);
        if (!force && !info.Exists)
        {
            return null; // gone for a moment (an editor writing a new one): the list in force stays
        }

        long length = !info.Exists ? -1 : info is FileInfo file ? file.Length : ConsentFolder.Signature(_path);
        if (!force && info.LastWriteTimeUtc == _writtenAt && length == _length)
        {
            return null;
        }

        try
        {
            Reading?.Invoke();
            _numbers = Read(_path);
            _writtenAt = info.LastWriteTimeUtc;
            _length = length;
        }
        catch (Exception e) when (!force && e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            // A list being rewritten, unreadable or wrong: the last good list stays in force (never an empty one).
            Rejected++;
            if ((info.LastWriteTimeUtc, length) != _refused)
            {
                _refused = (info.LastWriteTimeUtc, length); // said once per version of the file, not every second
                refused = e is InvalidDataException ? e.Message : $"cannot be read ({e.GetType().Name})";
            }
        }

        return refused;
    }

    /// <summary>Tests: called as a changed file starts to be read.</summary>
    internal Action? Reading { get; set; }

    /// <summary>Reloads that were refused (unreadable or invalid file); the previous list stayed in force.</summary>
    public int Rejected { get; private set; }

    /// <summary>
    /// Raised once per changed version of the file that is refused, with the reason (which line, never its content);
    /// the previous list stays in force.
    /// </summary>
    public event Action<string>? ReloadRefused;

    private (DateTime WrittenAt, long Length) _refused;

    // Every line is an NHS number (spaces allowed), a comment or blank; anything else makes the whole file invalid,
    // so a CSV or a half-written file is never taken for a short list. A folder holds FHIR Consent resources instead.
    private static FrozenSet<string> Read(string path)
    {
        if (Directory.Exists(path))
        {
            return ConsentFolder.Read(path);
        }

        var numbers = new HashSet<string>(StringComparer.Ordinal);
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            string text = line.Split('#', 2)[0].Replace(" ", string.Empty, StringComparison.Ordinal).Trim();
            if (text.Length == 0)
            {
                continue;
            }

            numbers.Add(StreamEngine.Fhir.NhsNumber.Normalise(text)
                ?? throw new InvalidDataException($"line {lineNumber} is not a valid NHS number"));
        }

        return numbers.ToFrozenSet(StringComparer.Ordinal);
    }
}
