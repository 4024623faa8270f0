using Microsoft.Data.Sqlite;

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
    private readonly SqliteCommand _insert;
    private readonly SqliteParameter _created;
    private readonly SqliteParameter _persistenceId;
    private readonly SqliteParameter _sequenceNr;
    private readonly SqliteParameter _message;
    private readonly SqliteParameter _tags;
    private readonly SqliteParameter _manifest;
    private readonly SqliteParameter _identifier;
    private readonly SqliteParameter _writerUuid;

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

            _insert = _connection.CreateCommand();
            _insert.CommandText = """
                INSERT INTO [journal] ([created], [deleted], [persistence_id], [sequence_number], [message], [tags], [manifest], [identifier], [writer_uuid])
                VALUES ($c, 0, $p, $s, $m, $t, $mf, $i, $w)
                """;
            _created = _insert.Parameters.Add("$c", SqliteType.Integer);
            _persistenceId = _insert.Parameters.Add("$p", SqliteType.Text);
            _sequenceNr = _insert.Parameters.Add("$s", SqliteType.Integer);
            _message = _insert.Parameters.Add("$m", SqliteType.Blob);
            _tags = _insert.Parameters.Add("$t", SqliteType.Text);
            _manifest = _insert.Parameters.Add("$mf", SqliteType.Text);
            _identifier = _insert.Parameters.Add("$i", SqliteType.Integer);
            _writerUuid = _insert.Parameters.Add("$w", SqliteType.Text);
            _insert.Prepare();
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
        _insert.Transaction = transaction;
        for (int i = 0; i < rows.Count; i++)
        {
            JournalRowData row = rows[i];
            _created.Value = row.Created;
            _persistenceId.Value = row.PersistenceId;
            _sequenceNr.Value = row.SequenceNr;
            _message.Value = row.Message;
            _tags.Value = row.Tags;
            _manifest.Value = row.Manifest;
            _identifier.Value = row.SerializerId;
            _writerUuid.Value = row.WriterUuid;
            _insert.ExecuteNonQuery();
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
        _insert.Dispose();
        _connection.Dispose();
    }
}
