using System.Collections.Frozen;

namespace StreamEngine.Policy;

/// <summary>
/// The national data opt-out: NHS numbers (one per line; spaces, blank lines and <c>#</c> comments allowed) whose
/// records must not reach a secondary-use sink. The file is re-read when it changes (checked at most once a second),
/// so a new list applies without a restart; a file that cannot be read keeps the last list and says so once.
/// </summary>
public sealed class OptOutList
{
    private readonly string _path;
    private readonly Lock _gate = new();
    private FrozenSet<string> _numbers = FrozenSet<string>.Empty;
    private DateTime _writtenAt;
    private long _length = -1;
    private long _checkedAt;
    private readonly long _recheckMs;

    /// <summary>Loads the list; throws <see cref="IOException"/> when the file cannot be read at start-up.</summary>
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
        long now = Environment.TickCount64;
        if (now - Interlocked.Read(ref _checkedAt) >= _recheckMs)
        {
            Reload(force: false);
        }

        return _numbers.Contains(nhsNumber);
    }

    private void Reload(bool force)
    {
        lock (_gate)
        {
            Interlocked.Exchange(ref _checkedAt, Environment.TickCount64);
            var info = new FileInfo(_path);
            if (!force && (!info.Exists || (info.LastWriteTimeUtc == _writtenAt && info.Length == _length)))
            {
                return;
            }

            var numbers = new HashSet<string>(StringComparer.Ordinal);
            foreach (string line in File.ReadLines(_path))
            {
                string text = line.Split('#', 2)[0].Replace(" ", string.Empty, StringComparison.Ordinal).Trim();
                if (text.Length > 0 && StreamEngine.Fhir.NhsNumber.Normalise(text) is { } number)
                {
                    numbers.Add(number);
                }
            }

            _numbers = numbers.ToFrozenSet(StringComparer.Ordinal);
            _writtenAt = info.LastWriteTimeUtc;
            _length = info.Length;
        }
    }
}
