using Npgsql;
using NpgsqlTypes;

namespace StreamEngine.Host.Journal;

/// <summary>
/// Journal rows into PostgreSQL: one connection (its durability mode is in the connection string's options), each group
/// as one prepared statement inserting from column arrays, so a group costs one round trip and one commit; the rows are
/// inserted in the group's order (<c>WITH ORDINALITY ... ORDER BY</c>), so the <c>ordering</c> identity follows it.
/// Connecting and each commit time out after the journal's circuit-breaker call-timeout (10 s): a commit runs on the
/// journal actor, which cannot trip its breaker itself.
/// </summary>
public sealed class PostgresJournalRowWriter : IJournalRowWriter
{
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlCommand _insert;

    /// <summary>Opens the connection and prepares the insert.</summary>
    public PostgresJournalRowWriter(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Timeout = 10, CommandTimeout = 10 };
        _connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            _connection.Open();
            _insert = new NpgsqlCommand("""
                INSERT INTO journal (created, deleted, persistence_id, sequence_number, message, tags, manifest, identifier, writer_uuid)
                SELECT c, false, p, s, m, t, mf, i, w FROM unnest($1, $2, $3, $4, $5, $6, $7, $8) WITH ORDINALITY AS r(c, p, s, m, t, mf, i, w, n) ORDER BY n
                """, _connection);
            _insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
            _insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            _insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
            _insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
            _insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            _insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            _insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
            _insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
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
        int n = rows.Count;
        var created = new long[n];
        var persistenceIds = new string[n];
        var sequenceNrs = new long[n];
        var messages = new byte[n][];
        var tags = new string[n];
        var manifests = new string[n];
        var identifiers = new int[n];
        var writers = new string[n];
        for (int i = 0; i < n; i++)
        {
            JournalRowData row = rows[i];
            created[i] = row.Created;
            persistenceIds[i] = row.PersistenceId;
            sequenceNrs[i] = row.SequenceNr;
            messages[i] = row.Message;
            tags[i] = row.Tags;
            manifests[i] = row.Manifest;
            identifiers[i] = row.SerializerId;
            writers[i] = row.WriterUuid;
        }

        NpgsqlParameterCollection p = _insert.Parameters;
        p[0].Value = created;
        p[1].Value = persistenceIds;
        p[2].Value = sequenceNrs;
        p[3].Value = messages;
        p[4].Value = tags;
        p[5].Value = manifests;
        p[6].Value = identifiers;
        p[7].Value = writers;
        _insert.ExecuteNonQuery(); // one statement: its own transaction
    }

    /// <summary>This connection's <c>synchronous_commit</c> (on in fsync mode, off in os mode).</summary>
    public string SynchronousCommit()
    {
        using var show = new NpgsqlCommand("SHOW synchronous_commit", _connection);
        return (string)show.ExecuteScalar()!;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _insert.Dispose();
        _connection.Dispose();
    }
}
