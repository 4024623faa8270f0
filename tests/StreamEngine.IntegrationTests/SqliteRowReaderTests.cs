using Microsoft.Data.Sqlite;
using StreamEngine.Host;

namespace StreamEngine.IntegrationTests;

/// <summary>The window's load at a start reads SQLite through its own functions: the same rows as ADO.NET, or it declines.</summary>
public sealed class SqliteRowReaderTests : IDisposable
{
    private const string Sql = "SELECT a, b, c, d FROM t WHERE s = @stream AND +d >= @since AND a <> 0 ORDER BY c";
    private readonly TestFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private async Task<SqliteConnection> OpenAsync()
    {
        var connection = (SqliteConnection)await SqliteStore.IndexOpener($"Data Source={Path.Combine(_folder.Path, "index.db")}")(CancellationToken.None);
        await using SqliteCommand create = connection.CreateCommand();
        create.CommandText = "CREATE TABLE IF NOT EXISTS t (s TEXT NOT NULL, a BIGINT NOT NULL, b BIGINT NOT NULL, c BIGINT NOT NULL, d BIGINT NOT NULL, x TEXT)";
        await create.ExecuteNonQueryAsync();
        return connection;
    }

    [Fact]
    public async Task ItGivesTheRowsAdoNetReads_OfTheStreamAndSinceAsked()
    {
        await using SqliteConnection connection = await OpenAsync();
        await using (SqliteCommand insert = connection.CreateCommand())
        {
            insert.CommandText = """
                INSERT INTO t VALUES ('ingest/a/ü', -9223372036854775807, 9223372036854775807, 1, 1000, 'x');
                INSERT INTO t VALUES ('ingest/a/ü', 5, -1, 2, 999, NULL);
                INSERT INTO t VALUES ('ingest/a/ü', 0, 7, 3, 2000, NULL);
                INSERT INTO t VALUES ('ingest/b', 6, 6, 4, 3000, NULL);
                INSERT INTO t VALUES ('ingest/a/ü', 8, 42, 5, 4000, 'y');
                """;
            await insert.ExecuteNonQueryAsync();
        }

        long cacheSize = await CacheSizeAsync(connection);
        var fast = new List<(long, long, long, long)>();
        Assert.True(SqliteRowReader.Instance.TryRead(connection, Sql, "ingest/a/ü", 1000, (a, b, c, d) => fast.Add((a, b, c, d))));

        var ado = new List<(long, long, long, long)>();
        await using (SqliteCommand select = connection.CreateCommand())
        {
            select.CommandText = Sql;
            select.Parameters.AddWithValue("@stream", "ingest/a/ü");
            select.Parameters.AddWithValue("@since", 1000L);
            await using SqliteDataReader reader = await select.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                ado.Add((reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3)));
            }
        }

        Assert.Equal([(-9223372036854775807L, 9223372036854775807L, 1L, 1000L), (8L, 42L, 5L, 4000L)], fast);
        Assert.Equal(ado, fast);
        Assert.Equal(cacheSize, await CacheSizeAsync(connection)); // the scan's small page cache is put back as it was

        // The statement is finished with: the connection writes on.
        await using SqliteCommand more = connection.CreateCommand();
        more.CommandText = "INSERT INTO t VALUES ('ingest/a/ü', 9, 9, 6, 5000, NULL)";
        Assert.Equal(1, await more.ExecuteNonQueryAsync());
    }

    private static async Task<long> CacheSizeAsync(SqliteConnection connection)
    {
        await using SqliteCommand pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA cache_size";
        return (long)(await pragma.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task ItDeclines_ANonSqliteConnection_OrAStatementSqliteCannotPrepare_HavingGivenNothing()
    {
        var rows = 0;
        await using var postgres = new Npgsql.NpgsqlConnection("Host=127.0.0.1");
        Assert.False(SqliteRowReader.Instance.TryRead(postgres, Sql, "s", 0, (_, _, _, _) => rows++));

        await using SqliteConnection connection = await OpenAsync();
        Assert.False(SqliteRowReader.Instance.TryRead(connection, Sql.Replace("FROM t", "FROM missing", StringComparison.Ordinal), "s", 0, (_, _, _, _) => rows++));
        Assert.Equal(0, rows);
    }
}
