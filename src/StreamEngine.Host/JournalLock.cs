using Microsoft.Extensions.Logging;
using Npgsql;
using StreamEngine.Pipeline;

namespace StreamEngine.Host;

/// <summary>
/// The PostgreSQL journal's lock (<see cref="PostgresStore.TryLockJournal"/>), held for as long as the engine runs and
/// checked every <see cref="Every"/>: a server restart, a dropped connection or the server's idle-session timeout ends
/// the session and the lock with it, so it is taken again at once; found taken by another engine meanwhile, this one
/// stops (exit code 1) rather than go on writing beside it.
/// </summary>
internal sealed class JournalLock : IAsyncDisposable
{
    private static readonly TimeSpan Every = TimeSpan.FromSeconds(2);

    private readonly string _connectionString;
    private readonly CancellationTokenSource _stop = new();
    private NpgsqlConnection? _held;
    private Task _watching = Task.CompletedTask;

    private JournalLock(string connectionString, NpgsqlConnection held)
    {
        _connectionString = connectionString;
        _held = held;
    }

    /// <summary>The lock, or null when another engine holds it.</summary>
    public static JournalLock? TryTake(string connectionString) =>
        PostgresStore.TryLockJournal(connectionString) is { } held ? new JournalLock(connectionString, held) : null;

    /// <summary>Checks the lock from now on; <paramref name="exit"/> stops the engine if another has taken it.</summary>
    public void Watch(EngineExit exit, ILogger log) => _watching = Task.Run(async () =>
    {
        using var timer = new PeriodicTimer(Every);
        while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
        {
            try
            {
                if (_held is { } held)
                {
                    await using var alive = new NpgsqlCommand("SELECT 1", held);
                    await alive.ExecuteScalarAsync(_stop.Token).ConfigureAwait(false);
                    continue;
                }

                if (PostgresStore.TryLockJournal(_connectionString) is not { } again)
                {
                    const string Taken = "Another engine took this PostgreSQL database's journal lock while this engine's connection to it was lost "
                        + "(store.connectionString or connectionStringFile): two engines on one journal would overwrite each other's records; this one stops";
                    log.LogError(Taken);
                    exit.Fail(Taken);
                    return;
                }

                _held = again;
                log.LogWarning("The journal lock's connection to PostgreSQL was lost; the lock is taken again");
            }
            catch (Exception e) when (!_stop.IsCancellationRequested)
            {
                // Lost (the server restarted, the session was ended): taken again at a later check, once the server
                // answers (told once, as it is lost). Whatever failed, the checks go on: a watcher that ended quietly would
                // leave the lock unguarded.
                if (_held is not null)
                {
                    log.LogWarning("The journal lock's connection to PostgreSQL failed ({Error}); it is taken again once the server answers", e.GetType().Name);
                    _held.Dispose();
                    _held = null;
                }
            }
        }
    });

    /// <summary>Ends the checks (waiting briefly for one under way: a server that stopped answering does not hold up the
    /// engine's stop) and the lock's session. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _watching.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // Stopped, or a check still waiting on the server: the session ends with the connection, or with the process.
        }

        Interlocked.Exchange(ref _held, null)?.Dispose();
    }
}
