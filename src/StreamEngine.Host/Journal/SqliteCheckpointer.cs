using Microsoft.Data.Sqlite;

namespace StreamEngine.Host.Journal;

/// <summary>
/// Copies committed WAL pages into the database file at an interval, on a thread and connection of its own
/// (<c>PRAGMA wal_checkpoint(PASSIVE)</c>: it never blocks the writer or readers, and copies what it can). Nothing it
/// meets ends the process: a failed checkpoint is tried again at the next interval with a fresh connection, and the
/// writer's own checkpoint is the backstop.
/// </summary>
internal sealed class SqliteCheckpointer : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly string _connectionString;
    private readonly string _synchronous;
    private readonly TimeSpan _interval;

    public SqliteCheckpointer(string connectionString, string synchronous, TimeSpan interval)
    {
        _connectionString = connectionString;
        _synchronous = synchronous;
        _interval = interval;
        _thread = new Thread(Run) { IsBackground = true, Name = "journal-checkpoint" };
        _thread.Start();
    }

    private void Run()
    {
        CancellationToken stopping = _stop.Token;
        SqliteConnection? connection = null;
        while (!stopping.WaitHandle.WaitOne(_interval))
        {
            try
            {
                if (connection is null)
                {
                    connection = new SqliteConnection(_connectionString);
                    connection.Open();
                    using SqliteCommand setup = connection.CreateCommand();
                    setup.CommandText = $"PRAGMA synchronous={_synchronous};";
                    setup.ExecuteNonQuery();
                }

                using SqliteCommand checkpoint = connection.CreateCommand();
                checkpoint.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
                checkpoint.ExecuteNonQuery();
            }
            catch (Exception)
            {
                try
                {
                    connection?.Dispose();
                }
                catch (Exception)
                {
                    // dropped either way
                }

                connection = null;
            }
        }

        try
        {
            connection?.Dispose();
        }
        catch (Exception)
        {
            // stopping anyway
        }
    }

    /// <summary>Stops the thread (waiting for a checkpoint in progress, up to 10 s; a hung one dies with the process).</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(10));
    }
}
