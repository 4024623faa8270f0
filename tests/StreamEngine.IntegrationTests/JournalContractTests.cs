using Akka.Actor;
using Akka.Hosting;
using Akka.Pattern;
using Akka.Persistence;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Hosting;
using Akka.Streams;
using Akka.Streams.Dsl;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using StreamEngine.Host;
using StreamEngine.Pipeline;
using StreamEngine.Pipeline.Index;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// Our own journal contract (the Akka persistence TCK is not available here), run against exactly the persistence the
/// engine configures (<see cref="EngineHost.ConfigurePersistence"/>) on embedded SQLite and on PostgreSQL: write and
/// replay byte-exact, the read journal, delete, recovery from a snapshot, concurrent writers, and a write the store fails.
/// </summary>
public sealed class JournalContractTests : IAsyncLifetime
{
    private readonly PersistenceHost _persistence = new();
    private EngineStore? _store;
    private string _dir = string.Empty;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _persistence.DisposeAsync();

    private async Task<Akka.TestKit.Xunit2.TestKit> StartAsync(string provider)
    {
        Akka.TestKit.Xunit2.TestKit kit = await _persistence.StartAsync(provider);
        _store = _persistence.Store;
        _dir = _persistence.Directory;
        return kit;
    }

    private static MessageReceived Message(int n, int size = 0)
    {
        byte[] body = new byte[size];
        new Random(n).NextBytes(body); // any byte, including CR, 0x00 and 0x1C: the journal keeps bytes as bytes
        byte[] raw = [.. System.Text.Encoding.ASCII.GetBytes($"MSH|^~\\&|PAS|RX1|||2026||ADT^A01|C{n}|P|2.4\rPID|1||M{n}^^^R^MR\rZBL|"), .. body];
        return new MessageReceived(raw, DateTimeOffset.UtcNow, "PAS", "RX1", "ADT^A01", $"C{n}", "2026", MessageFingerprint.ContentHash(raw), $"h{n}");
    }

    private IngestOptions Options(int snapshotEvery = 10_000) =>
        new(_store!.Index, new DedupeSettings(), StreamEngine.Host.Configuration.SettingsLoader.ReadJournalPluginId, snapshotEvery);

    [SkippableFact]
    public async Task OnPostgreSql_TheJournalHasTheIndexEveryReadByPersistenceIdUses()
    {
        await StartAsync("postgresql");
        await using var connection = new Npgsql.NpgsqlConnection(_persistence.Settings!.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'journal' AND indexname = 'ix_journal_persistence_id_sequence_number'", connection);
        string? definition = (string?)await command.ExecuteScalarAsync();
        Assert.NotNull(definition);
        Assert.Contains("(persistence_id, sequence_number)", definition, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData(Durability.Fsync, "on")]
    [InlineData(Durability.Os, "off")]
    public async Task OnPostgreSql_TheJournalWritersConnection_HasTheDurabilityMode(Durability durability, string expected)
    {
        string configured = await TestPostgres.CreateDatabaseAsync();
        string connectionString = PostgresStore.ConnectionString(configured, durability);
        PostgresStore.PrepareJournal(connectionString);
        using var writer = new StreamEngine.Host.Journal.PostgresJournalRowWriter(connectionString);
        Assert.Equal(expected, writer.SynchronousCommit());
    }

    [SkippableFact]
    public async Task OnPostgreSql_AWriterWhoseConnectionEndedWhileIdle_ConnectsAgain_AndTheNextGroupIsWritten()
    {
        // A server restart, a failover or idle_session_timeout ends the writer's connection while no frame comes: the next
        // group found it dead at its first write and was answered AR, however long the server had been back.
        string configured = await TestPostgres.CreateDatabaseAsync();
        string connectionString = PostgresStore.ConnectionString(configured, Durability.Fsync);
        PostgresStore.PrepareJournal(connectionString);
        using var writer = new StreamEngine.Host.Journal.PostgresJournalRowWriter(connectionString);
        static StreamEngine.Host.Journal.JournalRowData Row(long sequenceNr) => new("ingest/pg/default", sequenceNr, 0, [1, 2, 3], "", "M", 1, "w");
        writer.Insert([Row(1)]);
        await using (var admin = new NpgsqlConnection(configured))
        {
            await admin.OpenAsync();
            await using var terminate = new NpgsqlCommand(
                "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", admin);
            Assert.True((long)(await terminate.ExecuteScalarAsync())! >= 1); // the writer's (and any pooled one left by the set-up), gone on return
        }

        writer.Insert([Row(2), Row(3)]);

        await using var check = new NpgsqlConnection(configured);
        await check.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM journal WHERE persistence_id = 'ingest/pg/default'", check);
        Assert.Equal(3L, (long)(await count.ExecuteScalarAsync())!);
    }

    [SkippableFact]
    public async Task OnPostgreSql_TheMessageIndexsConnection_NeverWaitsForTheWalFlush()
    {
        string configured = await TestPostgres.CreateDatabaseAsync();
        await using var connection = new Npgsql.NpgsqlConnection(PostgresStore.IndexConnectionString(PostgresStore.ConnectionString(configured, Durability.Fsync)));
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SHOW synchronous_commit", connection);
        Assert.Equal("off", (string?)await command.ExecuteScalarAsync());
    }

    [SkippableTheory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task WriteThenReplay_IsByteExact_InOrder_AndTheReadJournalAgrees(string provider)
    {
        Akka.TestKit.Xunit2.TestKit kit = await StartAsync(provider);
        IActorRef journal = kit.Sys.ActorOf(IngestJournal.Props("ingest/c1/default", "c1", Options()));
        MessageReceived[] sent = [.. Enumerable.Range(1, 20).Select(n => Message(n, n == 7 ? 1 << 20 : n * 100))];
        foreach ((MessageReceived m, int i) in sent.Select((m, i) => (m, i)))
        {
            journal.Tell(new Append(i, m), kit.TestActor);
        }

        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), Enumerable.Range(0, 20).Select(_ => kit.ExpectMsg<Journaled>(TimeSpan.FromSeconds(30)).SequenceNr).Order());

        IReadOnlyList<object> replayed = await ReplayAsync(kit, "ingest/c1/default");
        Assert.Equal(sent.Select(m => Convert.ToHexString(m.Raw.Span)), replayed.Cast<MessageReceived>().Select(m => Convert.ToHexString(m.Raw.Span)));
        Assert.Equal(sent.Select(m => (m.ControlId, m.ContentHash, m.PatientKeyHash)), replayed.Cast<MessageReceived>().Select(m => (m.ControlId, m.ContentHash, m.PatientKeyHash)));

        var query = PersistenceQuery.Get(kit.Sys).ReadJournalFor<ICurrentEventsByPersistenceIdQuery>(StreamEngine.Host.Configuration.SettingsLoader.ReadJournalPluginId);
        IEnumerable<EventEnvelope> read = await query.CurrentEventsByPersistenceId("ingest/c1/default", 5, 9).RunWith(Sink.Seq<EventEnvelope>(), kit.Sys.Materializer());
        Assert.Equal([5L, 6, 7, 8, 9], read.Select(e => e.SequenceNr));
        Assert.Equal(sent[6].Raw.ToArray(), ((MessageReceived)read.ElementAt(2).Event).Raw.ToArray());
    }

    [SkippableTheory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task OurRowWrites_AreColumnForColumnThePlugins_AndEachReadsTheOthers(string provider)
    {
        // The engine writes journal rows itself (DirectWriteJournal); Akka.Persistence.Sql reads them, and journals the
        // plugin wrote before must read on. Same event through both writers: the same row but for identity and time.
        Akka.TestKit.Xunit2.TestKit kit = await StartAsync(provider);
        MessageReceived message = Message(1, 300);
        HostApplicationBuilder builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddAkka("plugin-only", (akka, _) =>
        {
            akka.WithSqlPersistence(_store!.Sql!, autoInitialize: true);
            akka.AddHocon("akka.persistence.journal.sql.tag-write-mode = Csv", HoconAddMode.Prepend);
            akka.WithCustomSerializer("streamengine", [typeof(IIngestEvent), typeof(IngestSnapshot)], system => new IngestEventSerializer(system));
        });
        long before = DateTime.UtcNow.Ticks;
        using (IHost pluginOnly = builder.Build())
        {
            await pluginOnly.StartAsync();
            var plain = new Akka.TestKit.Xunit2.TestKit(pluginOnly.Services.GetRequiredService<ActorSystem>());
            IActorRef byPlugin = plain.Sys.ActorOf(Props.Create(() => new Writer("parity/plugin")));
            byPlugin.Tell(message, plain.TestActor);
            Assert.Equal(1L, plain.ExpectMsg<long>(TimeSpan.FromSeconds(30)));
            await pluginOnly.StopAsync();
        }

        // The engine's journal is ours: its commits are counted (the plugin's own write path records nothing).
        long commits = 0;
        using var meter = new System.Diagnostics.Metrics.MeterListener();
        meter.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == StreamEngine.Diagnostics.StreamEngineTelemetry.Name && instrument.Name == "streamengine.journal.commits")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meter.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref commits, value));
        meter.Start();
        IActorRef ours = kit.Sys.ActorOf(Props.Create(() => new Writer("parity/direct")));
        ours.Tell(message, kit.TestActor);
        Assert.Equal(1L, kit.ExpectMsg<long>(TimeSpan.FromSeconds(30)));
        await StopAsync(ours);
        Assert.True(Interlocked.Read(ref commits) > 0, "the engine's journal did not write through DirectWriteJournal");
        long after = DateTime.UtcNow.Ticks;

        JournalColumns plugin = await ColumnsAsync(provider, "parity/plugin");
        JournalColumns direct = await ColumnsAsync(provider, "parity/direct");
        Assert.Equal(plugin with { Created = 0, WriterUuid = "" }, direct with { Created = 0, WriterUuid = "" });
        Assert.Equal(("MessageReceived.v2", 1L, "", false), (direct.Manifest, direct.SequenceNr, direct.Tags, direct.Deleted));
        Assert.All(new[] { plugin.Created, direct.Created }, created => Assert.InRange(created, before, after));
        Assert.Matches("^[0-9a-f]{32}$", direct.WriterUuid);

        Assert.Equal([Convert.ToHexString(message.Raw.Span)], (await ReplayAsync(kit, "parity/plugin")).Cast<MessageReceived>().Select(m => Convert.ToHexString(m.Raw.Span)));
        Assert.Equal([Convert.ToHexString(message.Raw.Span)], (await ReplayAsync(kit, "parity/direct")).Cast<MessageReceived>().Select(m => Convert.ToHexString(m.Raw.Span)));
    }

    [SkippableTheory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task AnEventThatCannotBeSerialized_IsRejectedAlone_AndTheOthersInItsWriteAreStored(string provider)
    {
        Akka.TestKit.Xunit2.TestKit kit = await StartAsync(provider);
        IActorRef writer = kit.Sys.ActorOf(Props.Create(() => new Writer("contract/reject")));
        // One turn, three persists: one write request of three atomic writes, the middle one unserializable.
        writer.Tell(new PersistThree(Message(1), new Unserializable(), Message(3)), kit.TestActor);
        Assert.Equal(["rejected 2", "stored 1", "stored 3"], Enumerable.Range(0, 3).Select(_ => kit.ExpectMsg<string>(TimeSpan.FromSeconds(30))).Order());
        await StopAsync(writer);
        Assert.Equal(["C1", "C3"], (await ReplayAsync(kit, "contract/reject")).Cast<MessageReceived>().Select(m => m.ControlId));
    }

    private sealed record PersistThree(object First, object Second, object Third);

    // No serializer binding: the default JSON serializer reads the property, which throws.
    private sealed class Unserializable
    {
        public string Value => throw new InvalidOperationException("not serializable");
    }

    private sealed record JournalColumns(long SequenceNr, bool Deleted, string Message, string? Tags, string? Manifest, long? Identifier, string WriterUuid, long Created);

    private async Task<JournalColumns> ColumnsAsync(string provider, string persistenceId)
    {
        const string Sql = "SELECT sequence_number, deleted, message, tags, manifest, identifier, writer_uuid, created FROM journal WHERE persistence_id = @p";
        System.Data.Common.DbConnection connection = provider == "postgresql"
            ? new NpgsqlConnection(_store!.Sql!.ConnectionOptions.ConnectionString)
            : new Microsoft.Data.Sqlite.SqliteConnection(SqliteStore.ConnectionString(_dir));
        await using (connection)
        {
            await connection.OpenAsync();
            await using System.Data.Common.DbCommand command = connection.CreateCommand();
            command.CommandText = Sql;
            System.Data.Common.DbParameter p = command.CreateParameter();
            p.ParameterName = "@p";
            p.Value = persistenceId;
            command.Parameters.Add(p);
            await using System.Data.Common.DbDataReader reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            var columns = new JournalColumns(reader.GetInt64(0), Convert.ToBoolean(reader.GetValue(1)), Convert.ToHexString((byte[])reader.GetValue(2)),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.IsDBNull(5) ? null : Convert.ToInt64(reader.GetValue(5)), reader.GetString(6), reader.GetInt64(7));
            Assert.False(await reader.ReadAsync());
            return columns;
        }
    }

    [SkippableTheory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task Delete_RemovesTheRange_AndTheSequenceCarriesOn(string provider)
    {
        Akka.TestKit.Xunit2.TestKit kit = await StartAsync(provider);
        IActorRef writer = kit.Sys.ActorOf(Props.Create(() => new Writer("contract/delete")));
        for (int i = 1; i <= 10; i++)
        {
            writer.Tell(Message(i), kit.TestActor);
        }

        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), Enumerable.Range(0, 10).Select(_ => kit.ExpectMsg<long>(TimeSpan.FromSeconds(30))));
        writer.Tell(new DeleteTo(6), kit.TestActor);
        kit.ExpectMsg<DeleteMessagesSuccess>(TimeSpan.FromSeconds(30));
        await StopAsync(writer);

        Assert.Equal(["C7", "C8", "C9", "C10"], (await ReplayAsync(kit, "contract/delete")).Cast<MessageReceived>().Select(m => m.ControlId));
        IActorRef again = kit.Sys.ActorOf(Props.Create(() => new Writer("contract/delete")));
        again.Tell(Message(11), kit.TestActor);
        Assert.Equal(11L, kit.ExpectMsg<long>(TimeSpan.FromSeconds(30)));
    }

    [SkippableTheory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task RecoveryFromASnapshot_KeepsTheSequence_AndEveryDedupeKey(string provider)
    {
        Akka.TestKit.Xunit2.TestKit kit = await StartAsync(provider);
        IActorRef journal = kit.Sys.ActorOf(IngestJournal.Props("ingest/c3/default", "c3", Options(snapshotEvery: 4)));
        for (int i = 1; i <= 13; i++)
        {
            journal.Tell(new Append(i, Message(i)), kit.TestActor);
            kit.ExpectMsg<Journaled>(TimeSpan.FromSeconds(30));
        }

        // Wait until a snapshot exists, then restart: recovery starts from it.
        await kit.AwaitAssertAsync(async () => Assert.True(await SnapshotCountAsync(provider) > 0), TimeSpan.FromSeconds(30));
        await StopAsync(journal);
        IActorRef again = kit.Sys.ActorOf(IngestJournal.Props("ingest/c3/default", "c3", Options(snapshotEvery: 4)));
        again.Tell(GetHighestSequenceNr.Instance, kit.TestActor);
        Assert.Equal(13L, kit.ExpectMsg<long>(TimeSpan.FromSeconds(30)));
        for (int i = 1; i <= 13; i++)
        {
            again.Tell(new Append(100 + i, Message(i)), kit.TestActor);
            Assert.Equal(new Journaled(100 + i, i, Duplicate: true), kit.ExpectMsg<Journaled>(TimeSpan.FromSeconds(30)));
        }

        again.Tell(new Append(200, Message(14)), kit.TestActor);
        Assert.Equal(new Journaled(200, 14), kit.ExpectMsg<Journaled>(TimeSpan.FromSeconds(30)));
    }

    [SkippableTheory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task ASnapshotAheadOfTheIndex_IsFilledFromTheJournal_SoNoResendGetsInTwice(string provider)
    {
        // The index lost every write (the engine died before each one landed), yet snapshots were taken: recovery
        // starts after the snapshot and must re-index what lies between the index's high-water mark and it.
        Akka.TestKit.Xunit2.TestKit kit = await StartAsync(provider);
        var lost = new IngestOptions(new DroppingIndex(), new DedupeSettings(), StreamEngine.Host.Configuration.SettingsLoader.ReadJournalPluginId, SnapshotEvery: 2);
        IActorRef journal = kit.Sys.ActorOf(IngestJournal.Props("ingest/cg/default", "cg", lost));
        for (int i = 1; i <= 7; i++)
        {
            journal.Tell(new Append(i, Message(i)), kit.TestActor);
            kit.ExpectMsg<Journaled>(TimeSpan.FromSeconds(30));
        }

        await kit.AwaitAssertAsync(async () => Assert.True(await SnapshotCountAsync(provider) > 0), TimeSpan.FromSeconds(30));
        await StopAsync(journal);

        IActorRef again = kit.Sys.ActorOf(IngestJournal.Props("ingest/cg/default", "cg", Options()));
        for (int i = 1; i <= 7; i++)
        {
            again.Tell(new Append(100 + i, Message(i)), kit.TestActor);
            Assert.Equal(new Journaled(100 + i, i, Duplicate: true), kit.ExpectMsg<Journaled>(TimeSpan.FromSeconds(30)));
        }
    }

    private sealed class CollectedKeys : IKeySink
    {
        public List<(long KeyHash, long ContentHash, long SequenceNr, DateTimeOffset ReceivedAt)> Keys { get; } = [];

        public int Expected { get; private set; } = -1;

        public void Expect(int keys)
        {
            Assert.Empty(Keys);
            Expected = keys;
        }

        public void Add(long keyHash, long contentHash, long sequenceNr, DateTimeOffset receivedAt) => Keys.Add((keyHash, contentHash, sequenceNr, receivedAt));
    }

    // An index whose writes never land.
    private sealed class DroppingIndex : IMessageIndex
    {
        public Task InitializeAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task<long> LoadAsync(string stream, DateTimeOffset since, IKeySink? keys, CancellationToken cancellationToken = default) =>
            Task.FromResult(0L);

        public Task AddAsync(string stream, IReadOnlyList<MessageIndexEntry> entries, CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task<int> PruneAsync(string stream, DateTimeOffset olderThan, int keep, CancellationToken cancellationToken = default) => Task.FromResult(0);

        public Task<IReadOnlyList<MessageIndexEntry>> FindAsync(MessageQuery query, CancellationToken cancellationToken = default) =>
            Task.FromResult<IReadOnlyList<MessageIndexEntry>>([]);
    }

    [SkippableTheory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task TheIndexFindsAMergeByTheRetiredPatientToo_AndAnIndexFromBeforeGetsTheColumn(string provider)
    {
        await StartAsync(provider);
        await _store!.Index.InitializeAsync();
        // An index made before merges were indexed by the retired patient: without the column.
        string drop = "ALTER TABLE streamengine_message_index DROP COLUMN prior_patient_key_hash";
        if (provider == "postgresql")
        {
            await using var connection = new NpgsqlConnection(_persistence.Settings!.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(drop, connection);
            await command.ExecuteNonQueryAsync();
        }
        else
        {
            await using var connection = new Microsoft.Data.Sqlite.SqliteConnection(SqliteStore.IndexConnectionString(_dir));
            await connection.OpenAsync();
            await using var command = new Microsoft.Data.Sqlite.SqliteCommand(drop, connection);
            await command.ExecuteNonQueryAsync();
        }

        IMessageIndex index = EngineHost.OpenStore(_persistence.Settings!).Index; // as the next start opens it
        await index.InitializeAsync();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        await index.AddAsync("s", [
            new MessageIndexEntry("s", 1, 1, 1, "PAS", "RX1", "A08-OLD", "ADT^A08", "2026", "old", now),
            new MessageIndexEntry("s", 2, 2, 2, "PAS", "RX1", "A40", "ADT^A40", "2026", "new", now) { PriorPatientKeyHash = "old" },
            new MessageIndexEntry("s", 3, 3, 3, "PAS", "RX1", "A08-NEW", "ADT^A08", "2026", "new", now),
        ]);

        Assert.Equal(["A08-OLD", "A40"], (await index.FindAsync(new MessageQuery { PatientKeyHash = "old" })).Select(e => e.ControlId));
        Assert.Equal(["A40", "A08-NEW"], (await index.FindAsync(new MessageQuery { PatientKeyHash = "new" })).Select(e => e.ControlId));
        Assert.Equal("old", (await index.FindAsync(new MessageQuery { ControlId = "A40" })).Single().PriorPatientKeyHash);

        // A rejected frame is found by its control id, and is never loaded as a dedupe key.
        await index.AddAsync("s", [MessageIndexEntry.Rejected("s", 4, "BAD-MSH", "MissingField", now)]);
        Assert.Equal("MissingField", (await index.FindAsync(new MessageQuery { ControlId = "BAD-MSH" })).Single().RejectedReason);
        var loaded = new CollectedKeys();
        Assert.Equal(4, await index.LoadAsync("s", now.AddMinutes(-1), loaded)); // the high-water mark
        Assert.Equal([1L, 2L, 3L], loaded.Keys.Select(k => k.SequenceNr)); // oldest first
        Assert.Equal([(1L, 1L), (2L, 2L), (3L, 3L)], loaded.Keys.Select(k => (k.KeyHash, k.ContentHash)));
        Assert.InRange(loaded.Expected, 3, 4); // said before the first key: about as many as came
        Assert.Equal(now.ToUnixTimeMilliseconds(), loaded.Keys[0].ReceivedAt.ToUnixTimeMilliseconds());
        var none = new CollectedKeys();
        await index.LoadAsync("s", now.AddMinutes(1), none);
        Assert.Empty(none.Keys); // none received since the window's start
        Assert.Equal(4, await index.LoadAsync("s", now, keys: null)); // only the high-water mark

        // Nor does it count towards the keys a prune keeps: keeping 2 keeps keys 2 and 3 (and the rejected frame after them).
        await index.PruneAsync("s", now.AddMinutes(-1), 2);
        var pruned = new CollectedKeys();
        await index.LoadAsync("s", now.AddMinutes(-1), pruned);
        Assert.Equal([2L, 3L], pruned.Keys.Select(k => k.SequenceNr));
        Assert.Single(await index.FindAsync(new MessageQuery { ControlId = "BAD-MSH" }));
    }

    [SkippableTheory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task ConcurrentWriters_EachKeepTheirOwnGaplessOrder(string provider)
    {
        Akka.TestKit.Xunit2.TestKit kit = await StartAsync(provider);
        const int Writers = 6;
        const int Each = 100;
        IActorRef[] journals = [.. Enumerable.Range(0, Writers).Select(w => kit.Sys.ActorOf(IngestJournal.Props($"ingest/cw{w}/default", $"cw{w}", Options())))];
        for (int i = 1; i <= Each; i++)
        {
            for (int w = 0; w < Writers; w++)
            {
                journals[w].Tell(new Append((w * 1000) + i, Message((w * 1000) + i)), kit.TestActor);
            }
        }

        var replies = Enumerable.Range(0, Writers * Each).Select(_ => kit.ExpectMsg<Journaled>(TimeSpan.FromSeconds(60))).ToList();
        for (int w = 0; w < Writers; w++)
        {
            var mine = replies.Where(r => r.CorrelationId / 1000 == w).OrderBy(r => r.CorrelationId).Select(r => r.SequenceNr).ToList();
            Assert.Equal(Enumerable.Range(1, Each).Select(i => (long)i), mine);
            Assert.Equal(Enumerable.Range(1, Each).Select(i => $"C{(w * 1000) + i}"),
                (await ReplayAsync(kit, $"ingest/cw{w}/default")).Cast<MessageReceived>().Select(m => m.ControlId));
        }
    }

    [SkippableTheory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task AWriteTheStoreFails_IsNeverAcknowledged_AndTheJournalRecoversWhenTheStoreDoes(string provider)
    {
        Akka.TestKit.Xunit2.TestKit kit = await StartAsync(provider);
        const string Pid = "ingest/cf/default";
        IActorRef journal = kit.Sys.ActorOf(BackoffSupervisor.Props(Backoff.OnStop(IngestJournal.Props(Pid, "cf", Options()), "journal",
            TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(500), 0.1, maxNrOfRetries: -1)));
        journal.Tell(new Append(1, Message(1)), kit.TestActor);
        Assert.Equal(1, kit.ExpectMsg<Journaled>(TimeSpan.FromSeconds(30)).SequenceNr);

        await ExecuteAsync(provider, provider == "postgresql"
            ? "CREATE FUNCTION se_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$ LANGUAGE plpgsql; " +
              "CREATE TRIGGER se_fail BEFORE INSERT ON journal FOR EACH ROW EXECUTE FUNCTION se_fail();"
            : "CREATE TRIGGER se_fail BEFORE INSERT ON journal BEGIN SELECT RAISE(ABORT, 'injected'); END;");
        journal.Tell(new Append(2, Message(2)), kit.TestActor);
        // Never acknowledged, and answered as failed at once (the connection answers AR 207), not left to a timeout.
        Assert.Equal(new AppendFailed(2), kit.ExpectMsg<AppendFailed>(TimeSpan.FromSeconds(30)));
        kit.ExpectNoMsg(TimeSpan.FromMilliseconds(500));

        await ExecuteAsync(provider, provider == "postgresql" ? "DROP TRIGGER se_fail ON journal;" : "DROP TRIGGER se_fail;");
        await kit.AwaitAssertAsync(() =>
        {
            journal.Tell(new Append(3, Message(3)), kit.TestActor);
            Assert.Equal(new Journaled(3, 2), kit.ExpectMsg<Journaled>(TimeSpan.FromSeconds(2)));
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200));
        Assert.Equal(["C1", "C3"], (await ReplayAsync(kit, Pid)).Cast<MessageReceived>().Select(m => m.ControlId));
    }

    private async Task ExecuteAsync(string provider, string sql)
    {
        if (provider == "postgresql")
        {
            await using var connection = new NpgsqlConnection(_store!.Sql!.ConnectionOptions.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }
        else
        {
            await using var connection = new Microsoft.Data.Sqlite.SqliteConnection(SqliteStore.ConnectionString(_dir));
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            await command.ExecuteNonQueryAsync();
        }
    }

    private async Task<long> SnapshotCountAsync(string provider)
    {
        string sql = "SELECT COUNT(*) FROM snapshot";
        if (provider == "postgresql")
        {
            await using var connection = new NpgsqlConnection(_store!.Sql!.ConnectionOptions.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            return (long)(await command.ExecuteScalarAsync())!;
        }

        await using var sqlite = new Microsoft.Data.Sqlite.SqliteConnection(SqliteStore.ConnectionString(_dir));
        await sqlite.OpenAsync();
        await using var count = sqlite.CreateCommand();
        count.CommandText = sql;
        return (long)(await count.ExecuteScalarAsync())!;
    }

    private static async Task<IReadOnlyList<object>> ReplayAsync(Akka.TestKit.Xunit2.TestKit kit, string persistenceId)
    {
        IActorRef replayer = kit.Sys.ActorOf(Props.Create(() => new Writer(persistenceId)));
        replayer.Tell(GetEvents.Instance, kit.TestActor);
        IReadOnlyList<object> events = kit.ExpectMsg<IReadOnlyList<object>>(TimeSpan.FromSeconds(30));
        await StopAsync(replayer);
        return events;
    }

    private static Task StopAsync(IActorRef actor) => actor.GracefulStop(TimeSpan.FromSeconds(10));

    private sealed record DeleteTo(long SequenceNr);

    private sealed record GetEvents
    {
        public static GetEvents Instance { get; } = new();
    }

    // A plain persistent actor over the same journal: persists what it is sent, replays, deletes.
    private sealed class Writer : ReceivePersistentActor
    {
        private readonly List<object> _events = [];
        private IActorRef _deleteRequester = ActorRefs.Nobody;

        public Writer(string persistenceId)
        {
            PersistenceId = persistenceId;
            Recover<IIngestEvent>(e => _events.Add(e));
            Command<MessageReceived>(m => Persist(m, e =>
            {
                _events.Add(e);
                Sender.Tell(LastSequenceNr);
            }));
            Command<PersistThree>(three =>
            {
                // Three separate persists (not PersistAll, which would be one atomic write): three atomic writes.
                IActorRef replyTo = Sender;
                _rejectionsTo = replyTo;
                void Stored(object stored)
                {
                    _events.Add(stored);
                    replyTo.Tell($"stored {LastSequenceNr}");
                }

                Persist(three.First, Stored);
                Persist(three.Second, Stored);
                Persist(three.Third, Stored);
            });
            Command<GetEvents>(_ => Sender.Tell((IReadOnlyList<object>)[.. _events]));
            Command<DeleteTo>(d =>
            {
                _deleteRequester = Sender;
                DeleteMessages(d.SequenceNr);
            });
            Command<DeleteMessagesSuccess>(s => _deleteRequester.Tell(s));
        }

        public override string PersistenceId { get; }

        private IActorRef _rejectionsTo = ActorRefs.Nobody;

        protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr) => _rejectionsTo.Tell($"rejected {sequenceNr}");
    }
}
