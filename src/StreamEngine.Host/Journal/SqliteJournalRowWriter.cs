using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace StreamEngine.Host.Journal;

/// <summary>
/// Journal rows into SQLite: one connection with the durability mode's <c>synchronous</c> (it resets on every
/// connection), each group in one <c>BEGIN IMMEDIATE</c> transaction, one prepared single-row insert bound per row. In
/// WAL mode with <c>synchronous=FULL</c> each commit is one fsync of the WAL.
/// <para>Checkpoints (copying the WAL into the database file, with an fsync of it) run on a thread of their own, so a
/// commit never waits for one: SQLite's automatic checkpoint, run by the committing connection every 1,000 pages, made
/// one commit in a hundred take 5-20 ms. The writer's own automatic checkpoint stays as a backstop at
/// <see cref="WalBackstopPages"/>: under unbroken load the WAL can only start over after a checkpoint that has caught
/// up with the last commit, which the writer's own does (the background one has already copied nearly everything); the
/// WAL file is then truncated back to that size (<c>journal_size_limit</c>).</para>
/// </summary>
public sealed class SqliteJournalRowWriter : IJournalRowWriter
{
    /// <summary>WAL pages (4 KiB) after which the writer checkpoints itself, restarting the WAL: 64 MiB.</summary>
    public const int WalBackstopPages = 16_384;

    private static readonly TimeSpan CheckpointInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How long a commit may wait for SQLite's lock (the snapshot store and retention's deletes write the same file) before
    /// it fails: the journal's circuit-breaker call-timeout, which a commit run on the journal actor cannot trip itself.
    /// </summary>
    public static readonly TimeSpan CommitTimeout = TimeSpan.FromSeconds(10);

    private readonly SqliteCheckpointer _checkpointer;
    private readonly SqliteConnection _connection;
    // The insert as SQLite's own prepared statement, bound and stepped through the raw API on the connection's handle:
    // Microsoft.Data.Sqlite's ExecuteNonQuery runs a reader and a managed binder per parameter for every row, on the
    // journal's single writer, the serial part of durable ingest.
    private readonly sqlite3_stmt _insert;
    // The texts repeat from row to row (one stream, one writer, a few manifests): encoded once each.
    private readonly Dictionary<string, byte[]> _utf8 = new(StringComparer.Ordinal);

    /// <summary>Opens the connection and prepares the insert.</summary>
    /// <param name="connectionString">The journal database.</param>
    /// <param name="synchronous">SQLite's <c>synchronous</c> for the durability mode (FULL or NORMAL).</param>
    /// <param name="walBackstopPages">WAL pages after which the writer checkpoints itself (tests make it small).</param>
    public SqliteJournalRowWriter(string connectionString, string synchronous, int walBackstopPages = WalBackstopPages)
    {
        _connection = new SqliteConnection(connectionString) { DefaultTimeout = (int)CommitTimeout.TotalSeconds };
        try
        {
            _connection.Open();
            using (SqliteCommand pragma = _connection.CreateCommand())
            {
                pragma.CommandText = $"PRAGMA synchronous={synchronous}; PRAGMA wal_autocheckpoint={walBackstopPages}; PRAGMA journal_size_limit={(long)walBackstopPages * 4096};";
                pragma.ExecuteNonQuery();
            }

            Check(raw.sqlite3_prepare_v2(_connection.Handle, """
                INSERT INTO [journal] ([created], [deleted], [persistence_id], [sequence_number], [message], [tags], [manifest], [identifier], [writer_uuid])
                VALUES (?1, 0, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                """, out _insert));
            _checkpointer = new SqliteCheckpointer(connectionString, synchronous, CheckpointInterval);
        }
        catch
        {
            _connection.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Insert(IReadOnlyList<JournalRowData> rows)
    {
        using SqliteTransaction transaction = _connection.BeginTransaction(deferred: false);
        for (int i = 0; i < rows.Count; i++)
        {
            JournalRowData row = rows[i];
            raw.sqlite3_bind_int64(_insert, 1, row.Created);
            BindTextOrNull(2, row.PersistenceId);
            raw.sqlite3_bind_int64(_insert, 3, row.SequenceNr);
            if (row.Message.Length == 0)
            {
                raw.sqlite3_bind_zeroblob(_insert, 4, 0); // (an empty span would bind NULL)
            }
            else
            {
                raw.sqlite3_bind_blob(_insert, 4, row.Message);
            }

            BindTextOrNull(5, row.Tags);
            BindTextOrNull(6, row.Manifest);
            raw.sqlite3_bind_int64(_insert, 7, row.SerializerId);
            BindTextOrNull(8, row.WriterUuid);
            int stepped = raw.sqlite3_step(_insert);
            raw.sqlite3_reset(_insert);
            if (stepped != raw.SQLITE_DONE)
            {
                throw new SqliteException($"SQLite error {stepped} ({raw.sqlite3_errstr(stepped).utf8_to_string()}) inserting a journal row.", stepped);
            }
        }

        transaction.Commit();
    }

    /// <summary>This connection's <c>PRAGMA synchronous</c> (2 = FULL, 1 = NORMAL): what each commit waits for.</summary>
    public long Synchronous()
    {
        using SqliteCommand pragma = _connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous;";
        return (long)pragma.ExecuteScalar()!;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _checkpointer.Dispose();
        _insert.Dispose(); // finalizes the statement, before its connection closes
        _connection.Dispose();
    }

    private static void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            throw new SqliteException($"SQLite error {rc} ({raw.sqlite3_errstr(rc).utf8_to_string()}) preparing the journal insert.", rc);
        }
    }

    private ReadOnlySpan<byte> Utf8(string text)
    {
        if (!_utf8.TryGetValue(text, out byte[]? bytes))
        {
            if (_utf8.Count > 1024)
            {
                _utf8.Clear(); // bounded: the texts are a handful in practice
            }

            bytes = Encoding.UTF8.GetBytes(text);
            _utf8[text] = bytes;
        }

        return bytes;
    }

    private void BindTextOrNull(int index, string? text)
    {
        if (text is null)
        {
            raw.sqlite3_bind_null(_insert, index);
        }
        else if (text.Length == 0)
        {
            raw.sqlite3_bind_text(_insert, index, string.Empty); // zero-terminated: '' (an empty span would bind NULL)
        }
        else
        {
            raw.sqlite3_bind_text(_insert, index, Utf8(text));
        }
    }
}
