namespace StreamEngine.Pipeline.Listening;

/// <summary>
/// What the log says of frames rejected on one listener: the first of each reason is logged at once, the rest are counted
/// and summed up in one line at most every <see cref="SummaryEvery"/>, so a sender repeating a bad frame, on one
/// connection or on a new connection each time, cannot flood the log. Shared by the listener's connection actors.
/// </summary>
public sealed class RejectionLog
{
    /// <summary>The least time between two summaries.</summary>
    public static readonly TimeSpan SummaryEvery = TimeSpan.FromSeconds(10);

    private readonly Lock _gate = new();
    private readonly HashSet<string> _logged = [];
    private readonly SortedDictionary<string, int> _unlogged = new(StringComparer.Ordinal);
    private long _loggedAt;

    /// <summary>True for the listener's first rejection with this reason (log it now); else it is counted for a summary.</summary>
    public bool First(string reason)
    {
        lock (_gate)
        {
            if (_logged.Add(reason))
            {
                _loggedAt = Environment.TickCount64;
                return true;
            }

            _unlogged[reason] = _unlogged.GetValueOrDefault(reason) + 1;
            return false;
        }
    }

    /// <summary>
    /// The rejections counted since the last summary, as "49 (BadMsh x49)", when there are some and a summary is due (or
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

            string summary = $"{_unlogged.Values.Sum()} ({string.Join(", ", _unlogged.Select(r => $"{r.Key} x{r.Value}"))})";
            _unlogged.Clear();
            _loggedAt = now;
            return summary;
        }
    }
}
