namespace StreamEngine.Pipeline;

/// <summary>
/// How the engine stops itself when it cannot do its job at all (a listener that cannot bind its port): the reason is
/// kept for the process's exit (non-zero, the reason on stderr) and the host is asked to stop. The first reason wins.
/// </summary>
/// <param name="stop">Stops the host (its application lifetime).</param>
public sealed class EngineExit(Action stop)
{
    private string? _reason;

    /// <summary>Why the engine stopped itself, or null.</summary>
    public string? Reason => Volatile.Read(ref _reason);

    /// <summary>Records the reason (codes, addresses and config keys only, never message content) and stops the host.</summary>
    public void Fail(string reason)
    {
        Interlocked.CompareExchange(ref _reason, reason, null);
        stop();
    }
}
