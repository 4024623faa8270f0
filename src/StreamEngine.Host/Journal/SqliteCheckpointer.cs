using Microsoft.Data.Sqlite;

namespace StreamEngine.Host.Journal;

/// <summary>
/// Copies committed WAL pages into the database file at an interval, on a thread and connection of its own
/// (<c>PRAGMA wal_checkpoint(PASSIVE)</c>: it never blocks the writer or readers, and copies what it can).
/// </summary>
internal sealed class SqliteCheckpointer : IDisposable
{
    private readonly ManualResetEventSlim _stop = new();
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
        SqliteConnection? connection = null;
        try
        {
            while (!_stop.Wait(_interval))
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
                catch (SqliteException)
                {
                    // Busy or failed: the next interval tries again, and the writer's own checkpoint is the backstop.
                    connection?.Dispose();
                    connection = null;
                }
            }
        }
        finally
        {
            connection?.Dispose();
        }
    }

    public void Dispose()
    {
        _stop.Set();
        _thread.Join(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}
