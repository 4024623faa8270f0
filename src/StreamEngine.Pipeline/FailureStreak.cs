using System.Diagnostics;

namespace StreamEngine.Pipeline;

/// <summary>
/// The failures of one supervised child (a sink) since it last worked: counted by its supervisor as each one stops it,
/// ended by the child's next incarnation once it works again, so the log says when an outage is over and how long it
/// lasted, not only when it began. Shared by every incarnation (the props carry it).
/// </summary>
public sealed class FailureStreak
{
    private readonly Lock _gate = new();
    private int _failures;
    private long _since;

    /// <summary>Whether a failure has been counted since the child last worked (cheap: read on every progress).</summary>
    public bool Open => Volatile.Read(ref _failures) != 0;

    /// <summary>Counts one failure (the first starts the streak's clock).</summary>
    public void Failed()
    {
        lock (_gate)
        {
            if (_failures == 0)
            {
                _since = Stopwatch.GetTimestamp();
            }

            Volatile.Write(ref _failures, _failures + 1);
        }
    }

    /// <summary>Ends the streak: how many failures it held and how long since the first; false if there was none.</summary>
    public bool TryEnd(out int failures, out TimeSpan lasted)
    {
        lock (_gate)
        {
            failures = _failures;
            lasted = failures == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(_since);
            Volatile.Write(ref _failures, 0);
            return failures != 0;
        }
    }

    private string? _replayId;
    private int _replayFailures;

    /// <summary>
    /// Counts a failure that cut a replay short (the sink restarts and runs it again): how many in a row this replay has
    /// had in this process. A replay that ends, or another replay, starts the count again.
    /// </summary>
    public int ReplayFailed(string replayId)
    {
        lock (_gate)
        {
            if (_replayId != replayId)
            {
                _replayId = replayId;
                _replayFailures = 0;
            }

            return ++_replayFailures;
        }
    }

    /// <summary>How many failures in a row have cut this replay short in this process.</summary>
    public int ReplayFailures(string replayId)
    {
        lock (_gate)
        {
            return _replayId == replayId ? _replayFailures : 0;
        }
    }

    /// <summary>The replay ended: the next failure of any replay counts from one.</summary>
    public void ReplayEnded()
    {
        lock (_gate)
        {
            _replayId = null;
            _replayFailures = 0;
        }
    }
}
