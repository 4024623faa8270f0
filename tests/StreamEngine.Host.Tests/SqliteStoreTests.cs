using LinqToDB;
using LinqToDB.Data;
using StreamEngine.Pipeline;

namespace StreamEngine.Host.Tests;

public sealed class SqliteStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("se-store-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(Durability.Fsync, 2L)] // FULL
    [InlineData(Durability.Os, 1L)]    // NORMAL
    public void EveryConnection_GetsTheDurabilityMode_AndTheFileIsInWal(Durability durability, long expected)
    {
        string connectionString = SqliteStore.ConnectionString(_dir);
        SqliteStore.Prepare(connectionString);
        for (int i = 0; i < 3; i++)
        {
            using var db = new DataConnection(SqliteStore.DataOptions(connectionString, durability));
            Assert.Equal(expected, db.Execute<long>("PRAGMA synchronous;"));
            Assert.Equal("wal", db.Execute<string>("PRAGMA journal_mode;"));
        }
    }

    [Fact]
    public void ADatabaseItMakes_AndItsWriteAheadLog_AreTheUsersAlone()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        string connectionString = SqliteStore.ConnectionString(_dir);
        SqliteStore.Prepare(connectionString);
        using (var db = new DataConnection(SqliteStore.DataOptions(connectionString, Durability.Fsync)))
        {
            db.Execute("CREATE TABLE t (x INTEGER)");
            db.Execute("INSERT INTO t VALUES (1)");
            string file = SqliteStore.JournalFile(_dir);
            foreach (string path in new[] { file, file + "-wal", file + "-shm" })
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            }
        }

        // A database that exists keeps its mode.
        string other = Path.Combine(_dir, "other.db");
        File.WriteAllBytes(other, []);
        File.SetUnixFileMode(other, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        SqliteStore.Prepare($"Data Source={other}");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(other));
    }

    [Fact]
    public void AJournalFromBeforeTheIndex_GetsIt_AndReadsByPersistenceIdUseIt()
    {
        string connectionString = SqliteStore.ConnectionString(_dir);
        SqliteStore.Prepare(connectionString);
        using (var old = new DataConnection(SqliteStore.DataOptions(connectionString, Durability.Os)))
        {
            // The table as the persistence plugin alone creates it: no index on (persistence_id, sequence_number).
            old.Execute("CREATE TABLE [journal] ([ordering] INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, [created] INTEGER NOT NULL, [deleted] Bit NOT NULL, " +
                "[persistence_id] NVarChar(255) NOT NULL, [sequence_number] INTEGER NOT NULL, [message] VarBinary NOT NULL, [tags] NVarChar(100) NULL, " +
                "[manifest] NVarChar(500) NULL, [identifier] INTEGER NULL, [writer_uuid] NVarChar(128) NULL)");
            old.Execute("INSERT INTO [journal] ([created], [deleted], [persistence_id], [sequence_number], [message]) VALUES (1, 0, 'p', 1, x'00')");
        }

        SqliteStore.PrepareJournal(connectionString);
        SqliteStore.PrepareJournal(connectionString); // again: nothing to do
        using var db = new Microsoft.Data.Sqlite.SqliteConnection(connectionString);
        db.Open();
        using Microsoft.Data.Sqlite.SqliteCommand count = db.CreateCommand();
        count.CommandText = "SELECT count(*) FROM [journal]";
        Assert.Equal(1L, (long)count.ExecuteScalar()!);
        using Microsoft.Data.Sqlite.SqliteCommand explain = db.CreateCommand();
        explain.CommandText = "EXPLAIN QUERY PLAN SELECT * FROM [journal] WHERE [persistence_id] = 'p' AND [sequence_number] >= 5 AND [sequence_number] <= 900 ORDER BY [sequence_number] LIMIT 100";
        var plan = new List<string>();
        using (Microsoft.Data.Sqlite.SqliteDataReader reader = explain.ExecuteReader())
        {
            while (reader.Read())
            {
                plan.Add(reader.GetString(reader.GetOrdinal("detail")));
            }
        }

        Assert.Contains(plan, line => line.Contains("USING INDEX IX_journal_persistence_id_sequence_number", StringComparison.Ordinal));
    }
}
