using System.Data.Common;
using System.Text;

namespace StreamEngine.Pipeline.Index;

/// <summary>
/// The message index in SQL (SQLite, in a file of its own beside the journal's, or the journal's PostgreSQL database:
/// the SQL here is common to both), in two tables: <c>streamengine_message_index</c> (one row per journaled message in the dedupe window) and
/// <c>streamengine_message_index_hwm</c> (per stream, the highest sequence number indexed).
/// </summary>
/// <param name="open">Opens a connection to the database (the host sets per-connection options).</param>
/// <param name="rowsPerStatement">
/// Rows per INSERT: many for a server (fewer round trips), 1 for embedded SQLite, where one prepared statement run per
/// row in a transaction is cheaper than parsing a statement with thousands of parameters.
/// </param>
/// <param name="rowReader">Reads the window's rows at a start where ADO.NET's reader is slow (embedded SQLite); null: ADO.NET.</param>
public sealed class SqlMessageIndex(Func<CancellationToken, Task<DbConnection>> open, int rowsPerStatement = 200, IIndexRowReader? rowReader = null) : IMessageIndex
{
    private const string Table = "streamengine_message_index";
    private const string HwmTable = "streamengine_message_index_hwm";
    private const string KeyTable = "streamengine_patient_key";
    private readonly SemaphoreSlim _initialize = new(1, 1);
    private bool _initialized;

    // The window's load at a start reads up to maxKeys rows and more: not the 30 s default of a server's command.
    private const int LoadTimeoutSeconds = 600;
    private const string Columns = "stream, seq, key_hash, content_hash, sending_application, sending_facility, control_id, message_type, message_time, patient_key_hash, received_at, prior_patient_key_hash";

    // PostgreSQL refuses NUL in text, and an escaped \X00\ in MSH decodes to one: never let a field stop the index.
    private static string Text(string value) => value.Contains('\0', StringComparison.Ordinal) ? value.Replace('\0', '\uFFFD') : value;

    /// <inheritdoc />
    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        // Once per process: journals of several listeners start together, and CREATE ... IF NOT EXISTS races on PostgreSQL.
        await _initialize.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_initialized)
            {
                await CreateTablesAsync(cancellationToken).ConfigureAwait(false);
                _initialized = true;
            }
        }
        finally
        {
            _initialize.Release();
        }
    }

    private async Task CreateTablesAsync(CancellationToken cancellationToken)
    {
        await using DbConnection connection = await open(cancellationToken).ConfigureAwait(false);
        foreach (string sql in new[]
        {
            $"CREATE TABLE IF NOT EXISTS {Table} (stream TEXT NOT NULL, seq BIGINT NOT NULL, key_hash BIGINT NOT NULL, content_hash BIGINT NOT NULL, " +
            "sending_application TEXT NOT NULL, sending_facility TEXT NOT NULL, control_id TEXT NOT NULL, message_type TEXT NOT NULL, " +
            "message_time TEXT NOT NULL, patient_key_hash TEXT NOT NULL, received_at BIGINT NOT NULL, prior_patient_key_hash TEXT NOT NULL DEFAULT '', " +
            "PRIMARY KEY (stream, seq))",
            // No index on control id or patient hash: their random values would make every insert touch random pages
            // of two large B-trees once the window holds a million messages. A trace scans the window instead
            // (narrowed by received_at when --since is given): an operator's query, not the ingest path.
            $"CREATE INDEX IF NOT EXISTS ix_{Table}_received ON {Table} (stream, received_at)",
            $"CREATE TABLE IF NOT EXISTS {HwmTable} (stream TEXT NOT NULL PRIMARY KEY, seq BIGINT NOT NULL)",
            $"CREATE TABLE IF NOT EXISTS {KeyTable} (id INTEGER NOT NULL PRIMARY KEY, fingerprint TEXT NOT NULL)",
        })
        {
            await Execute(connection, null, sql, cancellationToken).ConfigureAwait(false);
        }

        // An index made before merges were indexed by the retired patient too gets the column (both stores take this).
        if (!await HasPriorColumnAsync(connection, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await Execute(connection, null, $"ALTER TABLE {Table} ADD COLUMN prior_patient_key_hash TEXT NOT NULL DEFAULT ''", cancellationToken).ConfigureAwait(false);
            }
            catch (DbException)
            {
                // Another process may have added it meanwhile. Any other failure (rights, a lock) fails the start, and
                // the start is retried; the index is never marked ready without the column.
                if (!await HasPriorColumnAsync(connection, cancellationToken).ConfigureAwait(false))
                {
                    throw;
                }
            }
        }
    }

    private static async Task<bool> HasPriorColumnAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            await Execute(connection, null, $"SELECT prior_patient_key_hash FROM {Table} WHERE 1 = 0", cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (DbException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public async Task<string?> PatientKeyFingerprintAsync(string? proposed, CancellationToken cancellationToken = default)
    {
        if (proposed is not null)
        {
            await InitializeAsync(cancellationToken).ConfigureAwait(false);
        }

        await using DbConnection connection = await open(cancellationToken).ConfigureAwait(false);
        if (proposed is not null)
        {
            // Both stores take ON CONFLICT: two engines starting at once on one database agree on the first one's.
            await using DbCommand insert = Command(connection, null, $"INSERT INTO {KeyTable} (id, fingerprint) VALUES (1, @fingerprint) ON CONFLICT (id) DO NOTHING",
                ("fingerprint", proposed));
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await using DbCommand select = Command(connection, null, $"SELECT fingerprint FROM {KeyTable} WHERE id = 1");
            return await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
        }
        catch (DbException) when (proposed is null && !_initialized)
        {
            return null; // read only (offline commands): an index made before the fingerprint was recorded has no such table
        }
    }

    /// <inheritdoc />
    public async Task<long> LoadAsync(string stream, DateTimeOffset since, IKeySink? keys, CancellationToken cancellationToken = default)
    {
        await using DbConnection connection = await open(cancellationToken).ConfigureAwait(false);
        long hwm = 0;
        await using (DbCommand command = Command(connection, null, $"SELECT seq FROM {HwmTable} WHERE stream = @stream", ("stream", stream)))
        {
            if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is { } value and not DBNull)
            {
                hwm = Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        if (keys is null)
        {
            return hwm;
        }

        // About how many rows will come, from two seeks (the first received since, the last): the window is sized once,
        // not grown by doubling, and not for rows older than the window that pruning has not reached yet.
        long sinceMs = since.ToUnixTimeMilliseconds();
        await using (DbCommand command = Command(connection, null,
            $"SELECT (SELECT seq FROM {Table} WHERE stream = @stream AND received_at >= @since ORDER BY received_at LIMIT 1), " +
            $"(SELECT max(seq) FROM {Table} WHERE stream = @stream)", ("stream", stream), ("since", sinceMs)))
        await using (DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false) || reader.IsDBNull(0))
            {
                return hwm; // none received since
            }

            keys.Expect((int)Math.Clamp(reader.GetInt64(1) - reader.GetInt64(0) + 1, 0, int.MaxValue));
        }

        // Oldest first along the primary key: the order the rows were written in, so a cold start reads the file forwards
        // (read-ahead) and nothing is sorted. "+received_at" keeps SQLite off the received_at index, which it took for the
        // range and then sorted the whole window in a temporary B-tree; walking the key backwards instead read a cold
        // file against its read-ahead (6.6 s for a million rows, against 1.7 s).
        const string Sql = $"SELECT key_hash, content_hash, seq, received_at FROM {Table} WHERE stream = @stream AND +received_at >= @since AND key_hash <> 0 ORDER BY seq";
        if (rowReader?.TryRead(connection, Sql, stream, sinceMs, (key, content, seq, at) => keys.Add(key, content, seq, DateTimeOffset.FromUnixTimeMilliseconds(at))) != true)
        {
            await using DbCommand command = Command(connection, null, Sql, ("stream", stream), ("since", sinceMs));
            command.CommandTimeout = LoadTimeoutSeconds; // a server may sort the whole window before the first row
            await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                keys.Add(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)));
            }
        }

        return hwm;
    }

    /// <inheritdoc />
    public async Task AddAsync(string stream, IReadOnlyList<MessageIndexEntry> entries, CancellationToken cancellationToken = default)
    {
        if (entries.Count == 0)
        {
            return;
        }

        await using DbConnection connection = await open(cancellationToken).ConfigureAwait(false);
        await using DbTransaction transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        if (rowsPerStatement == 1)
        {
            await InsertOneByOneAsync(connection, transaction, entries, cancellationToken).ConfigureAwait(false);
        }

        for (int offset = 0; rowsPerStatement > 1 && offset < entries.Count; offset += rowsPerStatement)
        {
            int count = Math.Min(rowsPerStatement, entries.Count - offset);
            await using DbCommand command = connection.CreateCommand();
            command.Transaction = transaction;
            var sql = new StringBuilder($"INSERT INTO {Table} ({Columns}) VALUES ");
            for (int i = 0; i < count; i++)
            {
                MessageIndexEntry e = entries[offset + i];
                sql.Append(i == 0 ? "(" : ",(");
                object[] values = [e.Stream, e.SequenceNr, e.KeyHash, e.ContentHash, Text(e.SendingApplication), Text(e.SendingFacility), Text(e.ControlId),
                    Text(e.MessageType), Text(e.MessageTime), e.PatientKeyHash, e.ReceivedAt.ToUnixTimeMilliseconds(), e.PriorPatientKeyHash];
                for (int v = 0; v < values.Length; v++)
                {
                    string name = $"@p{i}_{v}";
                    sql.Append(v == 0 ? name : "," + name);
                    AddParameter(command, name[1..], values[v]);
                }

                sql.Append(')');
            }

            sql.Append(" ON CONFLICT (stream, seq) DO NOTHING");
            command.CommandText = sql.ToString();
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        long highest = entries.Max(e => e.SequenceNr);
        await Execute(connection, transaction,
            $"INSERT INTO {HwmTable} (stream, seq) VALUES (@stream, @seq) ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq WHERE {HwmTable}.seq < excluded.seq",
            cancellationToken, ("stream", stream), ("seq", highest)).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task InsertOneByOneAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<MessageIndexEntry> entries,
        CancellationToken cancellationToken)
    {
        await using DbCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"INSERT INTO {Table} ({Columns}) VALUES (@p0,@p1,@p2,@p3,@p4,@p5,@p6,@p7,@p8,@p9,@p10,@p11) ON CONFLICT (stream, seq) DO NOTHING";
        var parameters = new DbParameter[12];
        for (int v = 0; v < parameters.Length; v++)
        {
            parameters[v] = command.CreateParameter();
            // Named as in the statement, prefix included: Microsoft.Data.Sqlite looks an unprefixed name up three times
            // (@, :, $), a linear scan of the statement's names each, for every parameter of every row.
            parameters[v].ParameterName = "@p" + v.ToString(System.Globalization.CultureInfo.InvariantCulture);
            command.Parameters.Add(parameters[v]);
        }

        foreach (MessageIndexEntry e in entries)
        {
            parameters[0].Value = e.Stream;
            parameters[1].Value = e.SequenceNr;
            parameters[2].Value = e.KeyHash;
            parameters[3].Value = e.ContentHash;
            parameters[4].Value = Text(e.SendingApplication);
            parameters[5].Value = Text(e.SendingFacility);
            parameters[6].Value = Text(e.ControlId);
            parameters[7].Value = Text(e.MessageType);
            parameters[8].Value = Text(e.MessageTime);
            parameters[9].Value = e.PatientKeyHash;
            parameters[10].Value = e.ReceivedAt.ToUnixTimeMilliseconds();
            parameters[11].Value = e.PriorPatientKeyHash;
            cancellationToken.ThrowIfCancellationRequested();
            command.ExecuteNonQuery(); // embedded SQLite runs synchronously anyway; the caller gave this a thread of its own
        }
    }

    /// <inheritdoc />
    public async Task<int> PruneAsync(string stream, DateTimeOffset olderThan, int keep, CancellationToken cancellationToken = default)
    {
        await using DbConnection connection = await open(cancellationToken).ConfigureAwait(false);
        return await Execute(connection, null,
            $"DELETE FROM {Table} WHERE stream = @stream AND (received_at < @older OR seq <= (SELECT seq FROM {Table} WHERE stream = @stream AND key_hash <> 0 ORDER BY seq DESC LIMIT 1 OFFSET @keep))",
            cancellationToken, ("stream", stream), ("older", olderThan.ToUnixTimeMilliseconds()), ("keep", keep)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<MessageIndexEntry>> FindAsync(MessageQuery query, CancellationToken cancellationToken = default)
    {
        var where = new List<string>();
        var parameters = new List<(string, object)>();
        if (query.Stream is not null)
        {
            where.Add("stream = @stream");
            parameters.Add(("stream", query.Stream));
        }

        if (query.ControlId is not null)
        {
            where.Add("control_id = @control");
            parameters.Add(("control", query.ControlId));
        }

        if (query.PatientKeyHash is not null)
        {
            where.Add("(patient_key_hash = @patient OR prior_patient_key_hash = @patient)");
            parameters.Add(("patient", query.PatientKeyHash));
        }

        if (query.Since is { } since)
        {
            where.Add("received_at >= @since");
            parameters.Add(("since", since.ToUnixTimeMilliseconds()));
        }

        parameters.Add(("limit", Math.Clamp(query.Limit, 1, 10_000)));
        string filter = where.Count == 0 ? string.Empty : " WHERE " + string.Join(" AND ", where);
        await using DbConnection connection = await open(cancellationToken).ConfigureAwait(false);
        await using DbCommand command = Command(connection, null,
            $"SELECT {Columns} FROM {Table}{filter} ORDER BY received_at DESC, seq DESC LIMIT @limit", [.. parameters]);
        var found = new List<MessageIndexEntry>();
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            found.Add(new MessageIndexEntry(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetString(4),
                reader.GetString(5), reader.GetString(6), reader.GetString(7), reader.GetString(8), reader.GetString(9),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(10))) { PriorPatientKeyHash = reader.GetString(11) });
        }

        return [.. found.OrderBy(e => e.Stream, StringComparer.Ordinal).ThenBy(e => e.SequenceNr)];
    }

    private static async Task<int> Execute(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken,
        params (string Name, object Value)[] parameters)
    {
        await using DbCommand command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object Value)[] parameters)
    {
        DbCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach ((string name, object value) in parameters)
        {
            AddParameter(command, name, value);
        }

        return command;
    }

    private static void AddParameter(DbCommand command, string name, object value)
    {
        DbParameter parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }
}
