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
    private readonly string _connectionString;
    private NpgsqlConnection _connection;
    private NpgsqlCommand _insert;

    /// <summary>Opens the connection and prepares the insert.</summary>
    public PostgresJournalRowWriter(string connectionString)
    {
        _connectionString = new NpgsqlConnectionStringBuilder(connectionString) { Timeout = 10, CommandTimeout = 10 }.ConnectionString;
        (_connection, _insert) = Connect(_connectionString);
    }

    private static (NpgsqlConnection, NpgsqlCommand) Connect(string connectionString)
    {
        var connection = new NpgsqlConnection(connectionString);
        try
        {
            connection.Open();
            var insert = new NpgsqlCommand("""
                INSERT INTO journal (created, deleted, persistence_id, sequence_number, message, tags, manifest, identifier, writer_uuid)
                SELECT c, false, p, s, m, t, mf, i, w FROM unnest($1, $2, $3, $4, $5, $6, $7, $8) WITH ORDINALITY AS r(c, p, s, m, t, mf, i, w, n) ORDER BY n
                """, connection);
            insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
            insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
            insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
            insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
            insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Prepare();
            return (connection, insert);
        }
        catch
        {
            connection.Dispose();
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

        object[] values = [created, persistenceIds, sequenceNrs, messages, tags, manifests, identifiers, writers];
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            Execute(values);
        }
        catch (NpgsqlException) when (System.Diagnostics.Stopwatch.GetElapsedTime(started) < DeadOnArrival
            && (_connection.FullState.HasFlag(System.Data.ConnectionState.Broken) || _connection.State != System.Data.ConnectionState.Open))
        {
            // The connection was gone before this group (the server restarted, a failover, an idle timeout, the backend
            // terminated while the engine was idle), found at once by the first write after it: connected again, the
            // group goes once more. Only then: a write that broke after a while (an outage, a timeout) fails as before, its
            // frames answered AR without waiting for another connection. Had the first try been committed after all (the
            // reply lost), its first row is there, and the group is not written twice.
            Reconnect();
            if (!Written(rows[0]))
            {
                Execute(values);
            }
        }
    }

    // A connection found dead on arrival fails its first write at once; one that fails later is an outage or a timeout.
    private static readonly TimeSpan DeadOnArrival = TimeSpan.FromSeconds(1);

    // Whether a group's first row is in the journal (a group is one statement: all of it or none).
    private bool Written(JournalRowData first)
    {
        using var exists = new NpgsqlCommand(
            "SELECT EXISTS (SELECT 1 FROM journal WHERE persistence_id = $1 AND sequence_number = $2 AND writer_uuid = $3)", _connection);
        exists.Parameters.Add(new NpgsqlParameter { Value = first.PersistenceId });
        exists.Parameters.Add(new NpgsqlParameter { Value = first.SequenceNr });
        exists.Parameters.Add(new NpgsqlParameter { Value = first.WriterUuid });
        return (bool)exists.ExecuteScalar()!;
    }

    private void Execute(object[] values)
    {
        NpgsqlParameterCollection p = _insert.Parameters;
        for (int i = 0; i < values.Length; i++)
        {
            p[i].Value = values[i];
        }

        _insert.ExecuteNonQuery(); // one statement: its own transaction
    }

    private void Reconnect()
    {
        (NpgsqlConnection connection, NpgsqlCommand insert) = Connect(_connectionString); // still down: throws, and the frames are answered AR
        _insert.Dispose();
        _connection.Dispose();
        (_connection, _insert) = (connection, insert);
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
