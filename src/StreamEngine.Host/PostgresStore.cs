using System.Data.Common;
using LinqToDB;
using Npgsql;
using StreamEngine.Pipeline;

namespace StreamEngine.Host;

/// <summary>
/// The PostgreSQL journal store. The durability mode is a session setting, given in the connection's start-up
/// options so that it costs no round trip: fsync is <c>synchronous_commit=on</c> (the commit waits for the WAL
/// flush), os is <c>synchronous_commit=off</c> (the commit returns before the flush; a server crash may lose the
/// last few hundred milliseconds, a crash of the engine loses nothing).
/// </summary>
public static class PostgresStore
{
    /// <summary>The connection string with the durability setting and the application name added.</summary>
    public static string ConnectionString(string configured, Durability durability)
    {
        var builder = new NpgsqlConnectionStringBuilder(configured);
        string setting = $"-c synchronous_commit={(durability == Durability.Fsync ? "on" : "off")}";
        builder.Options = string.IsNullOrWhiteSpace(builder.Options) ? setting : $"{builder.Options} {setting}";
        builder.ApplicationName ??= "streamengine";
        return builder.ConnectionString;
    }

    /// <summary>linq2db options for Akka.Persistence.Sql.</summary>
    public static DataOptions DataOptions(string connectionString) =>
        new DataOptions().UseConnectionString(ProviderName.PostgreSQL15, connectionString);

    /// <summary>Opens connections for the message index.</summary>
    public static Func<CancellationToken, Task<DbConnection>> Opener(string connectionString)
    {
        NpgsqlDataSource source = NpgsqlDataSource.Create(connectionString);
        return async cancellationToken => await source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
    }
}
