using System.Data.Common;
using LinqToDB;
using LinqToDB.Interceptors;
using Microsoft.Data.Sqlite;
using StreamEngine.Pipeline;

namespace StreamEngine.Host;

/// <summary>
/// The embedded SQLite journal store: WAL mode (a property of the database file, set once) and the durability mode,
/// which SQLite resets on every connection, so it is set on each connection as linq2db opens it.
/// fsync: <c>synchronous=FULL</c>, one fsync of the WAL per commit (survives power loss).
/// os: <c>synchronous=NORMAL</c>, commits reach the OS, fsync only at checkpoints (survives a process crash).
/// </summary>
public static class SqliteStore
{
    /// <summary>The journal database file of a data directory.</summary>
    public static string JournalFile(string dataDirectory) => Path.Combine(Path.GetFullPath(dataDirectory), "streamengine.db");

    /// <summary>The connection string of the journal database in a data directory.</summary>
    public static string ConnectionString(string dataDirectory) => new SqliteConnectionStringBuilder
    {
        DataSource = JournalFile(dataDirectory),
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
    }.ToString();

    /// <summary>
    /// The same database opened read-only: nothing is written or checkpointed through it. A database with no
    /// write-ahead log beside it is opened immutable: no engine has it open (an open one always has its <c>-wal</c> and
    /// <c>-shm</c>) and all of it is in the file, so SQLite need not make those files to read it, which it could not
    /// in a folder this user may not write.
    /// </summary>
    public static string ReadOnly(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString) { Mode = SqliteOpenMode.ReadOnly };
        string file = builder.DataSource;
        if (!File.Exists(file + "-wal") && !File.Exists(file + "-shm"))
        {
            builder.DataSource = new Uri(Path.GetFullPath(file)).AbsoluteUri + "?immutable=1";
        }

        return builder.ToString();
    }

    /// <summary>linq2db options for Akka.Persistence.Sql: the provider, and the durability set on every connection.</summary>
    public static DataOptions DataOptions(string connectionString, Durability durability) =>
        new DataOptions()
            .UseConnectionString(ProviderName.SQLiteMS, connectionString)
            .UseInterceptor(new SynchronousPragma(Synchronous(durability)));

    /// <summary>SQLite's <c>synchronous</c> setting for a durability mode.</summary>
    public static string Synchronous(Durability durability) => durability == Durability.Fsync ? "FULL" : "NORMAL";

    /// <summary>
    /// The message index's own database file beside the journal's: SQLite has one writer per file, and index writes
    /// sharing the journal's file would make journal commits wait on the lock (SQLite's busy retry sleeps).
    /// </summary>
    public static string IndexConnectionString(string dataDirectory) => new SqliteConnectionStringBuilder
    {
        DataSource = Path.Combine(Path.GetFullPath(dataDirectory), "index.db"),
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
    }.ToString();

    /// <summary>
    /// Opens connections for the message index, with <c>synchronous=NORMAL</c>: the index is rebuilt from the journal
    /// after a crash, so its commits need not wait for an fsync of their own.
    /// </summary>
    public static Func<CancellationToken, Task<DbConnection>> IndexOpener(string connectionString) => async cancellationToken =>
    {
        var connection = new SqliteConnection(connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using SqliteCommand command = connection.CreateCommand();
            // A 64 MiB page cache: index inserts land at random places in its B-trees, and the default 2 MiB cache
            // turns each into page reads once the window holds a few hundred thousand messages.
            command.CommandText = "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;";
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    };

    /// <summary>
    /// Creates the database if needed, for the engine's user alone on Unix (mode 0600: it holds raw messages; SQLite gives
    /// its <c>-wal</c> and <c>-shm</c> files the database file's mode), and switches it to WAL. A file that exists keeps its
    /// mode.
    /// </summary>
    public static void Prepare(string connectionString)
    {
        string file = new SqliteConnectionStringBuilder(connectionString).DataSource;
        if (!File.Exists(file))
        {
            SecretFile.Create(file, []); // an empty file is an empty SQLite database; one made meanwhile stands
        }

        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// The journal table as Akka.Persistence.Sql creates it, created here first so that it has the index every read
    /// needs: the plugin's own table has none on (persistence_id, sequence_number), so each batch of a recovery, a
    /// sink's catch-up or a replay scanned the whole journal. A database created before this gets the index on start.
    /// And the snapshot table, so that the plugin creates no tables (its auto-initialize built two linq2db queries at
    /// every start, on the journal's recovery path: ~0.3 s of CPU).
    /// </summary>
    public static void PrepareJournal(string connectionString)
    {
        Prepare(connectionString);
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = JournalSchema;
        command.ExecuteNonQuery();
    }

    // Column for column what Akka.Persistence.Sql 1.5.73's auto-initialize writes, plus the index.
    private const string JournalSchema = """
        CREATE TABLE IF NOT EXISTS [snapshot]
        (
        	[persistence_id]  NVarChar(255) NOT NULL,
        	[sequence_number] INTEGER       NOT NULL,
        	[created]         INTEGER       NOT NULL,
        	[snapshot]        VarBinary         NULL,
        	[manifest]        NVarChar(500)     NULL,
        	[serializer_id]   INTEGER           NULL,

        	CONSTRAINT [PK_snapshot] PRIMARY KEY ([persistence_id], [sequence_number])
        );
        CREATE TABLE IF NOT EXISTS [journal]
        (
        	[ordering]        INTEGER        NOT NULL PRIMARY KEY AUTOINCREMENT,
        	[created]         INTEGER        NOT NULL,
        	[deleted]         Bit            NOT NULL,
        	[persistence_id]  NVarChar(255)  NOT NULL,
        	[sequence_number] INTEGER        NOT NULL,
        	[message]         VarBinary      NOT NULL,
        	[tags]            NVarChar(100)      NULL,
        	[manifest]        NVarChar(500)      NULL,
        	[identifier]      INTEGER            NULL,
        	[writer_uuid]     NVarChar(128)      NULL
        );
        CREATE INDEX IF NOT EXISTS [IX_journal_persistence_id_sequence_number] ON [journal] ([persistence_id], [sequence_number]);
        """;

    private sealed class SynchronousPragma(string mode) : ConnectionInterceptor
    {
        private readonly string _sql = $"PRAGMA synchronous={mode};";

        public override void ConnectionOpened(ConnectionEventData eventData, DbConnection connection)
        {
            using DbCommand command = connection.CreateCommand();
            command.CommandText = _sql;
            command.ExecuteNonQuery();
        }

        public override async Task ConnectionOpenedAsync(ConnectionEventData eventData, DbConnection connection, CancellationToken cancellationToken)
        {
            await using DbCommand command = connection.CreateCommand();
            command.CommandText = _sql;
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
