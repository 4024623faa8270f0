using Microsoft.Data.Sqlite;

namespace StreamEngine.Host.Journal;

/// <summary>
/// Journal rows into SQLite: one connection with the durability mode's <c>synchronous</c> (it resets on every
/// connection), each group in one <c>BEGIN IMMEDIATE</c> transaction, one prepared single-row insert bound per row. In
/// WAL mode with <c>synchronous=FULL</c> each commit is one fsync of the WAL.
/// </summary>
public sealed class SqliteJournalRowWriter : IJournalRowWriter
{
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
    public SqliteJournalRowWriter(string connectionString, string synchronous)
    {
        _connection = new SqliteConnection(connectionString);
        try
        {
            _connection.Open();
            using (SqliteCommand pragma = _connection.CreateCommand())
            {
                pragma.CommandText = $"PRAGMA synchronous={synchronous};";
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

    /// <inheritdoc />
    public void Dispose()
    {
        _insert.Dispose();
        _connection.Dispose();
    }
}
