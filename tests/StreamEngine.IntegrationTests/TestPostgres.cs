using Npgsql;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// The throw-away PostgreSQL 15 cluster that .ci/run starts (initdb into a temp folder, loopback only), named by
/// STREAMENGINE_TEST_POSTGRES (a connection string to its maintenance database). Each test gets a database of its own.
/// Without it, PostgreSQL tests skip on a developer machine and fail in CI (STREAMENGINE_REQUIRE_PEERS=1).
/// </summary>
internal static class TestPostgres
{
    public const string Variable = "STREAMENGINE_TEST_POSTGRES";

    public static string Require()
    {
        string? connectionString = Environment.GetEnvironmentVariable(Variable);
        bool required = Environment.GetEnvironmentVariable("STREAMENGINE_REQUIRE_PEERS") == "1";
        Assert.True(connectionString is not null || !required, $"{Variable} is not set (.ci/run starts a PostgreSQL cluster and sets it)");
        Skip.If(connectionString is null, $"{Variable} is not set: no PostgreSQL to test against");
        return connectionString!;
    }

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public static async Task<string> CreateDatabaseAsync()
    {
        var builder = new NpgsqlConnectionStringBuilder(Require());
        string name = "se_" + Guid.NewGuid().ToString("N")[..12];
        await using (var connection = new NpgsqlConnection(builder.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await command.ExecuteNonQueryAsync();
        }

        builder.Database = name;
        return builder.ConnectionString;
    }
}
