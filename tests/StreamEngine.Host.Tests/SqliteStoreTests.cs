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
}
