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

    /// <summary>
    /// The message index's connection: <c>synchronous_commit=off</c> in either mode. Recovery brings the index up to
    /// date from the journal past its own high-water mark, so an index commit lost with the server is indexed again;
    /// waiting for its WAL flush would cost a second flush per group (measured: 1-connection fsync ingest 20% slower).
    /// </summary>
    public static string IndexConnectionString(string configured) => ConnectionString(configured, Durability.Os);

    /// <summary>The same connection with every transaction read-only: a write through it fails.</summary>
    public static string ReadOnly(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        builder.Options = $"{builder.Options} -c default_transaction_read_only=on".Trim();
        return builder.ConnectionString;
    }

    /// <summary>Whether the database holds the journal table (an engine has run on it).</summary>
    public static bool HasJournal(string connectionString)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var command = new NpgsqlCommand("SELECT to_regclass('journal') IS NOT NULL", connection);
        return (bool)command.ExecuteScalar()!;
    }

    /// <summary>
    /// One engine per journal, as <see cref="DataDirectoryLock"/> is for a data directory: two engines given one database
    /// (each with its own data directory) would write their records under the same persistence ids. A session-level
    /// advisory lock named after the database and schema, held on a connection of its own (not pooled: disposing it
    /// ends the session and so the lock) for as long as the engine runs; the server releases it when the engine's
    /// process ends, kill -9 included, or its connection is lost. Null when another session holds it.
    /// </summary>
    public static NpgsqlConnection? TryLockJournal(string connectionString)
    {
        // Bounded waits: a server that stops answering must not hold up the engine's stop (the checks' commands time out,
        // and a cancelled one does not wait for the server's word).
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            Pooling = false, ApplicationName = "streamengine (journal lock)", Timeout = 5, CommandTimeout = 5, CancellationTimeout = -1,
        };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            connection.Open();
            if (connection.PostgreSqlVersion.Major >= 14)
            {
                // A database's idle_session_timeout must not end the lock's session between two checks.
                using var keep = new NpgsqlCommand("SET idle_session_timeout = 0", connection);
                keep.ExecuteNonQuery();
            }

            using var command = new NpgsqlCommand(
                "SELECT pg_try_advisory_lock(hashtextextended('streamengine journal ' || current_database() || '.' || current_schema(), 0))", connection);
            if (command.ExecuteScalar() is not bool taken)
            {
                // No schema (Search Path naming none that exists): the journal could not be created either.
                throw new InvalidOperationException("the search path names no schema that exists in the database");
            }

            if (taken)
            {
                return connection;
            }
        }
        catch
        {
            connection.Dispose();
            throw;
        }

        connection.Dispose();
        return null;
    }

    /// <summary>linq2db options for Akka.Persistence.Sql.</summary>
    public static DataOptions DataOptions(string connectionString) =>
        new DataOptions().UseConnectionString(ProviderName.PostgreSQL15, connectionString);

    /// <summary>
    /// The journal table as Akka.Persistence.Sql creates it, created here first so that it has the index every read
    /// needs (the plugin's own has none on (persistence_id, sequence_number): each read batch scanned the journal). A
    /// database created before this gets the index on start. And the snapshot table, so that the plugin creates none.
    /// </summary>
    public static void PrepareJournal(string connectionString)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var command = new NpgsqlCommand(JournalSchema, connection);
        command.ExecuteNonQuery();
    }

    // Column for column what Akka.Persistence.Sql 1.5.73's auto-initialize writes, plus the index.
    private const string JournalSchema = """
        CREATE TABLE IF NOT EXISTS snapshot (
            persistence_id text NOT NULL,
            sequence_number bigint NOT NULL,
            created bigint NOT NULL,
            snapshot bytea,
            manifest text,
            serializer_id integer,
            CONSTRAINT "PK_snapshot" PRIMARY KEY (persistence_id, sequence_number)
        );
        CREATE TABLE IF NOT EXISTS journal (
            ordering bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
            created bigint NOT NULL,
            deleted boolean NOT NULL,
            persistence_id text NOT NULL,
            sequence_number bigint NOT NULL,
            message bytea NOT NULL,
            tags text,
            manifest text,
            identifier integer,
            writer_uuid text,
            CONSTRAINT "PK_journal" PRIMARY KEY (ordering)
        );
        CREATE INDEX IF NOT EXISTS ix_journal_persistence_id_sequence_number ON journal (persistence_id, sequence_number);
        """;

    /// <summary>Opens connections for the message index.</summary>
    public static Func<CancellationToken, Task<DbConnection>> Opener(string connectionString)
    {
        NpgsqlDataSource source = NpgsqlDataSource.Create(connectionString);
        return async cancellationToken => await source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
    }
}
