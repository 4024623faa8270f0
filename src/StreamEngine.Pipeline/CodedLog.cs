namespace StreamEngine.Pipeline;

/// <summary>
/// What the log says of a recurring coded event (frames rejected on one listener, messages a sink mapped with warnings):
/// the first of each code is logged at once, the rest are counted and summed up in one line at most every
/// <see cref="SummaryEvery"/>, so a sender repeating a bad frame, on one connection or on a new connection each time,
/// or a feed whose every message carries the same flaw, cannot flood the log. Thread-safe: a listener's connection
/// actors share one.
/// </summary>
public sealed class CodedLog
{
    /// <summary>The least time between two summaries.</summary>
    public static readonly TimeSpan SummaryEvery = TimeSpan.FromSeconds(10);

    private readonly Lock _gate = new();
    private readonly HashSet<string> _logged = [];
    private readonly Dictionary<string, int> _unlogged = new(StringComparer.Ordinal);
    private long _loggedAt;

    /// <summary>True for the first event with this code (log it now); else it is counted for a summary.</summary>
    public bool First(string code)
    {
        lock (_gate)
        {
            if (_logged.Add(code))
            {
                _loggedAt = Environment.TickCount64;
                return true;
            }

            System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_unlogged, code, out _)++;
            return false;
        }
    }

    /// <summary>
    /// The events counted since the last summary, as "49 (BadMsh x49)", when there are some and a summary is due (or
    /// <paramref name="force"/>d); else null. Taking it starts the next count.
    /// </summary>
    public string? TakeSummary(bool force)
    {
        lock (_gate)
        {
            long now = Environment.TickCount64;
            if (_unlogged.Count == 0 || (!force && now - _loggedAt < (long)SummaryEvery.TotalMilliseconds))
            {
                return null;
            }

            string summary = $"{_unlogged.Values.Sum()} ({string.Join(", ", _unlogged.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key} x{r.Value}"))})";
            _unlogged.Clear();
            _loggedAt = now;
            return summary;
        }
    }
}
