using System.Text;
using System.Text.Json;
using StreamEngine.Hl7v2;

namespace StreamEngine.IntegrationTests;

/// <summary>The engine as a user runs it: a separate process, real sockets, the embedded SQLite journal, real peers.</summary>
public sealed class EndToEndTests
{
    private static string Sample(string name) => Path.Combine(AppContext.BaseDirectory, "samples", name);

    [SkippableFact]
    public async Task AdtA01_FromPythonHl7MllpSend_IsAckedAa_AndDeliveredAsAFhirBundle()
    {
        Peers.RequireMllpSend();
        using var folder = new TestFolder();
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);

        List<Hl7Message> acks = await Peers.MllpSendAsync(engine.Port, Sample("adt_a01.hl7"));

        Hl7Message ack = Assert.Single(acks);
        Assert.Equal("AA", ack.Get("MSA-1"));
        Assert.Equal("SAMPLE0001", ack.Get("MSA-2"));
        Assert.Equal("PAS", ack.Get("MSH-5")); // sender and receiver swapped

        JsonDocument bundle = Assert.Single(await folder.AwaitLinesAsync(1));
        Assert.Equal("Bundle", bundle.RootElement.GetProperty("resourceType").GetString());
        Assert.Equal("transaction", bundle.RootElement.GetProperty("type").GetString());
        Assert.Equal("SAMPLE0001", TestFolder.ControlId(bundle));
        JsonElement patient = bundle.RootElement.GetProperty("entry").EnumerateArray()
            .Select(e => e.GetProperty("resource")).Single(r => r.GetProperty("resourceType").GetString() == "Patient");
        Assert.Contains(patient.GetProperty("identifier").EnumerateArray(), i =>
            i.GetProperty("system").GetString() == "https://fhir.nhs.uk/Id/nhs-number" && i.GetProperty("value").GetString() == "9990000034");
        Assert.Equal(0, await engine.StopAsync());
    }

    [SkippableFact]
    public async Task BrokenMsh_GetsArWithAnErrSegment_AndTheListenerKeepsServing()
    {
        Peers.RequireMllpSend();
        using var folder = new TestFolder();
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);

        byte[] broken = Encoding.ASCII.GetBytes("MSH|^~\\&|PAS|RX1|ROUTE|RX1|20261130||||P|2.5\rPID|1||X\r");
        byte[] garbage = Encoding.ASCII.GetBytes("this is not HL7 at all");
        List<Hl7Message> acks = await Peers.SendAsync(engine.Port, [broken, garbage, Peers.Adt("A01", "AFTER1", "M1")]);

        Assert.Equal("AR", acks[0].Get("MSA-1"));
        Assert.NotNull(acks[0].FindSegment("ERR"));
        Assert.Equal("101", acks[0].Get("ERR-3.1"));
        Assert.Equal("AR", acks[1].Get("MSA-1"));
        Assert.NotNull(acks[1].FindSegment("ERR"));
        Assert.Equal("AA", acks[2].Get("MSA-1")); // same connection, still served

        Hl7Message fromOtherPeer = Assert.Single(await Peers.MllpSendAsync(engine.Port, Sample("adt_a01.hl7")));
        Assert.Equal("AA", fromOtherPeer.Get("MSA-1"));

        List<JsonDocument> lines = await folder.AwaitLinesAsync(2);
        Assert.Equal(["AFTER1", "SAMPLE0001"], TestFolder.InJournalOrder(lines).Select(TestFolder.ControlId));
        Assert.Equal(0, await engine.StopAsync());
    }

    [Fact]
    public async Task GracefulRestart_OnTheSameDataDirectory_LosesNothing_AndDeliversNothingTwice()
    {
        using var folder = new TestFolder();
        await using (EngineProcess first = await EngineProcess.StartAsync(folder.Path))
        {
            List<Hl7Message> acks = await Peers.SendAsync(first.Port,
                [Peers.Adt("A01", "R1", "M1"), Peers.Adt("A08", "R2", "M1"), Peers.Adt("A04", "R3", "M2", "9990000026", "V2")]);
            Assert.All(acks, a => Assert.Equal("AA", a.Get("MSA-1")));
            Assert.Equal(3, (await folder.AwaitLinesAsync(3)).Count);
            Assert.Equal(0, await first.StopAsync());
        }

        await using (EngineProcess second = await EngineProcess.StartAsync(folder.Path))
        {
            List<Hl7Message> acks = await Peers.SendAsync(second.Port, [Peers.Adt("A08", "R4", "M2", "9990000026", "V2"), Peers.Adt("A01", "R5", "M3")]);
            Assert.All(acks, a => Assert.Equal("AA", a.Get("MSA-1")));
            List<JsonDocument> lines = await folder.AwaitLinesAsync(5);
            Assert.Equal(0, await second.StopAsync());
            lines = folder.Lines();
            TestFolder.AssertPatientOrder([("R1", "M1"), ("R2", "M1"), ("R3", "M2"), ("R4", "M2"), ("R5", "M3")], lines);
            lines = TestFolder.InJournalOrder(lines);
            Assert.Equal(["R1", "R2", "R3", "R4", "R5"], lines.Select(TestFolder.ControlId));
            Assert.Equal(Enumerable.Range(1, 5).Select(i => $"streamengine:ingest/it/default#{i}"), lines.Select(TestFolder.DeliveryId));
        }
    }

    [Fact]
    public async Task KillDashNine_RightAfterTheAcks_EveryAckedMessageIsDeliveredExactlyOnce()
    {
        using var folder = new TestFolder();
        var sent = new List<(string ControlId, string Patient)>();
        for (int round = 0; round < 3; round++)
        {
            EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
            var batch = Enumerable.Range(0, 40).Select(i => (ControlId: $"K{round}-{i}", Patient: $"M{i % 7}")).ToList();
            List<Hl7Message> acks = await Peers.SendAsync(engine.Port, batch.Select((m, i) => Peers.Adt(i % 2 == 0 ? "A01" : "A08", m.ControlId, m.Patient)));
            Assert.All(acks, a => Assert.Equal("AA", a.Get("MSA-1")));
            sent.AddRange(batch);
            await engine.KillAsync(); // no flush, no watermark save, no goodbye
            await engine.DisposeAsync();
        }

        await using EngineProcess last = await EngineProcess.StartAsync(folder.Path);
        await folder.AwaitLinesAsync(sent.Count);
        Assert.Equal(0, await last.StopAsync());
        List<JsonDocument> lines = folder.Lines();
        Assert.Equal(sent.Select(m => m.ControlId), TestFolder.InJournalOrder(lines).Select(TestFolder.ControlId)); // each once
        TestFolder.AssertPatientOrder(sent, lines);
    }

    [SkippableFact]
    public async Task Logs_HoldNoPatientData_EvenAtDebugLevel()
    {
        Peers.RequireMllpSend();
        using var folder = new TestFolder();
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path, verbose: true);
        await Peers.MllpSendAsync(engine.Port, Sample("adt_a01.hl7"));
        await Peers.SendAsync(engine.Port, [Encoding.ASCII.GetBytes("MSH|^~\\&|PAS|RX1|ROUTE|RX1|2026||||P|2.5\rPID|1||SECRETMRN^^^R0B^MR||SECRETNAME\r")]);
        await folder.AwaitLinesAsync(1);
        Assert.Equal(0, await engine.StopAsync());

        string logs = engine.Logs;
        Assert.Contains("ready on", logs, StringComparison.Ordinal); // the logs were captured
        foreach (string phi in new[] { "TAYLOR", "CHRIS", "9990000034", "RX10001", "19751212", "SECRETMRN", "SECRETNAME", "MEADOW" })
        {
            Assert.DoesNotContain(phi, logs, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task BadConfig_FailsAtStartUp_NamingTheKey()
    {
        using var folder = new TestFolder();
        await File.WriteAllTextAsync(Path.Combine(folder.Path, "streamengine.json"), """{ "listeners": [ { "name": "it", "port": 99999 } ] }""");
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => EngineProcess.StartAsync(folder.Path));
        Assert.Contains("listeners[0].port", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_CountsResendsAnsweredAgain_AndControlIdsReusedWithNewContent()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "it", port = 0 }, admin: new { port = 0 });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        Assert.True(await engine.AwaitLogAsync("Admin endpoint ready"));
        // L1, the same L1 again (a resend: the same ACK, no new event), then L1 with other content (a reused control id).
        List<Hl7Message> acks = await Peers.SendAsync(engine.Port, [Peers.Adt("A01", "L1", "M1"), Peers.Adt("A01", "L1", "M1"), Peers.Adt("A08", "L1", "M1")]);
        Assert.All(acks, a => Assert.Equal(("AA", "L1"), (a.Get("MSA-1"), a.Get("MSA-2"))));
        string config = Path.Combine(folder.Path, "streamengine.json");

        (int exit, string json) = await CliTests.RunAsync("status", "--json", "-c", config);
        Assert.Equal(0, exit);
        JsonElement stream = JsonDocument.Parse(json).RootElement.GetProperty("streams")[0];
        Assert.Equal((2, 1, 1), (stream.GetProperty("journaled").GetInt64(), stream.GetProperty("resendsAnswered").GetInt64(), stream.GetProperty("controlIdReuses").GetInt64()));
        (_, string text) = await CliTests.RunAsync("status", "-c", config);
        Assert.Contains("2 journaled; since the engine started 1 resend(s) answered again, 1 control id(s) reused with new content", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ADataDirectoryThatIsAFile_FailsAtStartUp_NamingTheKey()
    {
        using var folder = new TestFolder();
        string file = Path.Combine(folder.Path, "not-a-folder");
        await File.WriteAllTextAsync(file, "x");
        await File.WriteAllTextAsync(Path.Combine(folder.Path, "streamengine.json"),
            JsonSerializer.Serialize(new { dataDirectory = file, listeners = new[] { new { name = "it", port = 0 } } }));

        (int exit, _, string stderr) = await CliTests.RunWithErrorsAsync("run", "--config", Path.Combine(folder.Path, "streamengine.json"));

        Assert.Equal(2, exit); // a configuration error, as for any bad key: not an unhandled exception
        Assert.Contains($"dataDirectory: '{file}' cannot be used as the data directory", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("listeners[0].port")]
    [InlineData("admin.port")]
    public async Task APortThatIsTaken_StopsTheEngine_NamingTheKey(string key)
    {
        using var holder = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        holder.Start();
        int taken = ((System.Net.IPEndPoint)holder.LocalEndpoint).Port;
        using var folder = new TestFolder();
        bool admin = key == "admin.port";
        await folder.WriteConfigAsync(new { name = "it", port = admin ? 0 : taken }, admin: admin ? new { port = taken } : null);

        // Exits by itself (RunWithErrorsAsync waits at most 60 s), non-zero, instead of running on deaf to that feed (or
        // unreachable by the CLI), and says why in one line rather than with an unhandled exception's stack trace.
        (int exit, _, string stderr) = await CliTests.RunWithErrorsAsync("run", "--config", Path.Combine(folder.Path, "streamengine.json"));

        Assert.Equal(1, exit);
        Assert.Contains($"cannot listen on 127.0.0.1:{taken}: AddressAlreadyInUse ({key})", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", stderr, StringComparison.Ordinal);
    }

    private const string Label63 = "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc"; // the longest a DNS label may be

    [Theory]
    [InlineData("192.0.2.1", "192.0.2.1:{0}: AddressNotAvailable")] // TEST-NET-1: never an address of this machine
    [InlineData("no-such-host.invalid", "no-such-host.invalid:{0}: ")] // RFC 6761: never resolves
    [InlineData(Label63 + "." + Label63 + "." + Label63 + "." + Label63 + "." + Label63, Label63 + "." + Label63 + "." + Label63 + "." + Label63 + "." + Label63 + ":{0}: ")] // over 255: the resolver refuses it
    public async Task AListenerHostThatIsNotThisMachines_StopsTheEngine_NamingTheHostKey(string host, string expected)
    {
        using var holder = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        holder.Start();
        int port = ((System.Net.IPEndPoint)holder.LocalEndpoint).Port; // a port no one else takes meanwhile
        holder.Stop();
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "it", host, port });

        (int exit, _, string stderr) = await CliTests.RunWithErrorsAsync("run", "--config", Path.Combine(folder.Path, "streamengine.json"));

        Assert.Equal(1, exit); // not an engine running on with no listener for that feed
        Assert.Contains("cannot listen on " + string.Format(System.Globalization.CultureInfo.InvariantCulture, expected, port), stderr, StringComparison.Ordinal);
        Assert.Contains("(listeners[0].host); the engine stops", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASecondEngineOnTheSameDataDirectory_StopsBeforeWritingAnything()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "it", port = 0 });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        Assert.All(await Peers.SendAsync(engine.Port, [Peers.Adt("A01", "L1", "M1")]), a => Assert.Equal("AA", a.Get("MSA-1")));
        await folder.AwaitLinesAsync(1);
        List<string> files = folder.StoreFiles();

        (int exit, _, string stderr) = await CliTests.RunWithErrorsAsync("run", "--config", Path.Combine(folder.Path, "streamengine.json"));

        Assert.Equal(1, exit);
        Assert.Contains("Another engine is running on the data directory", stderr, StringComparison.Ordinal);
        Assert.Equal(files.Where(f => !f.StartsWith("streamengine.db", StringComparison.Ordinal) && !f.StartsWith("index.db", StringComparison.Ordinal)),
            folder.StoreFiles().Where(f => !f.StartsWith("streamengine.db", StringComparison.Ordinal) && !f.StartsWith("index.db", StringComparison.Ordinal)));
        using (var db = new Microsoft.Data.Sqlite.SqliteConnection(StreamEngine.Host.SqliteStore.ReadOnly(StreamEngine.Host.SqliteStore.ConnectionString(Path.Combine(folder.Path, "data")))))
        {
            db.Open();
            using var writers = db.CreateCommand();
            writers.CommandText = "SELECT COUNT(DISTINCT writer_uuid) FROM journal WHERE persistence_id LIKE 'sink/%'";
            Assert.Equal(1L, (long)writers.ExecuteScalar()!); // the running engine's sink alone wrote its records
        }

        // The first engine runs on, unharmed.
        Assert.All(await Peers.SendAsync(engine.Port, [Peers.Adt("A08", "L2", "M1")]), a => Assert.Equal("AA", a.Get("MSA-1")));
        Assert.Equal(["L1", "L2"], (await folder.AwaitLinesAsync(2)).Select(TestFolder.ControlId));
        Assert.Equal(0, await engine.StopAsync());
    }

    [SkippableFact]
    public async Task ASecondEngineOnTheSamePostgresDatabase_StopsBeforeWritingAnything_AndStartsOnceTheFirstIsGone()
    {
        string connectionString = await TestPostgres.CreateDatabaseAsync();
        using var first = new TestFolder();
        using var second = new TestFolder(); // its own data directory: only the database is shared
        object store = new { provider = "postgresql", connectionString };
        await first.WriteConfigAsync(new { name = "it", port = 0 }, store: store);
        await second.WriteConfigAsync(new { name = "it", port = 0 }, store: store);
        await using EngineProcess engine = await EngineProcess.StartAsync(first.Path);
        Assert.All(await Peers.SendAsync(engine.Port, [Peers.Adt("A01", "L1", "M1")]), a => Assert.Equal("AA", a.Get("MSA-1")));
        await first.AwaitLinesAsync(1);

        (int exit, _, string stderr) = await CliTests.RunWithErrorsAsync("run", "--config", Path.Combine(second.Path, "streamengine.json"));

        Assert.Equal(1, exit);
        Assert.Contains("Another engine is running on this PostgreSQL database", stderr, StringComparison.Ordinal);
        Assert.Equal(1L, await JournalWritersAsync(connectionString)); // the running engine alone wrote to the journal
        Assert.All(await Peers.SendAsync(engine.Port, [Peers.Adt("A08", "L2", "M1")]), a => Assert.Equal("AA", a.Get("MSA-1")));
        Assert.Equal(["L1", "L2"], (await first.AwaitLinesAsync(2)).Select(TestFolder.ControlId));

        // Killed, the first engine's session ends and the lock with it: the second starts on the journal.
        await engine.KillAsync();
        await AwaitNoAdvisoryLockAsync(connectionString); // the server ends the session once it reads the closed socket
        // Not with a patient key of its own (a fresh data directory): its hashes would put M1's later messages apart from
        // the earlier ones, which then lost their order and ran past a quarantined one. With the first's key copied, it starts.
        (exit, _, stderr) = await CliTests.RunWithErrorsAsync("run", "--config", Path.Combine(second.Path, "streamengine.json"));
        Assert.Equal(1, exit);
        Assert.Contains("has no patient key (keys/patient-key.hmac), but this journal's messages were keyed with one", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(second.Path, "data", "keys", "patient-key.hmac"))); // none made meanwhile
        Directory.CreateDirectory(Path.Combine(second.Path, "data", "keys"));
        File.Copy(Path.Combine(first.Path, "data", "keys", "patient-key.hmac"), Path.Combine(second.Path, "data", "keys", "patient-key.hmac"));
        await using EngineProcess successor = await EngineProcess.StartAsync(second.Path);
        Assert.All(await Peers.SendAsync(successor.Port, [Peers.Adt("A08", "L3", "M1")]), a => Assert.Equal("AA", a.Get("MSA-1")));
        Assert.Equal(0, await successor.StopAsync());
    }

    [Fact]
    public async Task APatientKeyFileReplacedOrLostBetweenRuns_StopsTheStart_AndTheRightKeyStartsIt_WithThePatientsNextMessageStillBehindItsQuarantinedOne()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "it", port = 0 }, admin: new { port = 0 });
        string config = Path.Combine(folder.Path, "streamengine.json");
        string keyFile = Path.Combine(folder.Path, "data", "keys", "patient-key.hmac");
        byte[] poison = System.Text.Encoding.ASCII.GetBytes("MSH|^~\\&|PAS|RX1|ROUTE|RX1|20261130081500||QRY^A19|Q1|P|2.4\rPID|1||M7^^^R0B^MR\r");
        await using (EngineProcess engine = await EngineProcess.StartAsync(folder.Path))
        {
            Assert.All(await Peers.SendAsync(engine.Port, [poison, Peers.Adt("A08", "Q2", "M7")]), a => Assert.Equal("AA", a.Get("MSA-1")));
            await AwaitParkedAsync(config, 1, engine);
            Assert.Equal(0, await engine.StopAsync());
        }

        byte[] original = await File.ReadAllBytesAsync(keyFile);
        await File.WriteAllBytesAsync(keyFile, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)); // restored from the wrong backup, say
        (int exit, _, string stderr) = await CliTests.RunWithErrorsAsync("run", "--config", config);
        Assert.Equal((1, true), (exit, stderr.Contains("is not the one this journal's messages were keyed with", StringComparison.Ordinal)));
        File.Delete(keyFile);
        (exit, _, stderr) = await CliTests.RunWithErrorsAsync("run", "--config", config);
        Assert.Equal((1, true), (exit, stderr.Contains("has no patient key", StringComparison.Ordinal)));
        (exit, _, stderr) = await CliTests.RunWithErrorsAsync("trace", "--mrn", "M7", "-c", config); // offline: no key to match an MRN with
        Assert.Contains("--mrn cannot be matched", stderr, StringComparison.Ordinal);

        await File.WriteAllBytesAsync(keyFile, original);
        await using (EngineProcess engine = await EngineProcess.StartAsync(folder.Path))
        {
            Assert.All(await Peers.SendAsync(engine.Port, [Peers.Adt("A08", "Q3", "M7"), Peers.Adt("A01", "OTHER", "M8")]), a => Assert.Equal("AA", a.Get("MSA-1")));
            Assert.Equal(["OTHER"], (await folder.AwaitLinesAsync(1)).Select(TestFolder.ControlId));
            await AwaitParkedAsync(config, 2, engine); // Q3 waits behind Q1 with Q2, in order
            Assert.Equal(["OTHER"], (await folder.AwaitLinesAsync(1)).Select(TestFolder.ControlId));
            Assert.Equal(0, await engine.StopAsync());
        }
    }

    // Waits (up to a minute) until the one quarantined message has this many parked behind it.
    private static async Task AwaitParkedAsync(string config, int parked, EngineProcess engine)
    {
        for (DateTime deadline = DateTime.UtcNow.AddMinutes(1); ;)
        {
            (int _, string stdout) = await CliTests.RunAsync("quarantine", "list", "--json", "-c", config);
            System.Text.Json.JsonElement[] items = [.. System.Text.Json.JsonDocument.Parse(stdout).RootElement.GetProperty("items").EnumerateArray()];
            if (items.Length == 1 && items[0].GetProperty("parked").GetInt32() == parked)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"not quarantined with {parked} parked: {stdout}\n{engine.Logs}");
            await Task.Delay(100); // a probe of the sink
        }
    }

    [SkippableFact]
    public async Task AJournalLockLostWithItsConnection_IsTakenAgain_OrTheEngineStopsIfAnotherTookIt()
    {
        string connectionString = await TestPostgres.CreateDatabaseAsync();
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "it", port = 0 }, store: new { provider = "postgresql", connectionString });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        await using var test = new Npgsql.NpgsqlConnection(connectionString);
        await test.OpenAsync();
        const string EndLockSession = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'streamengine (journal lock)' AND datname = current_database()";

        // A server restart or an idle-session timeout ends the lock's session: the engine takes the lock again.
        await using (var end = new Npgsql.NpgsqlCommand(EndLockSession, test))
        {
            await end.ExecuteNonQueryAsync();
        }

        Assert.True(await engine.AwaitLogAsync("the lock is taken again", TimeSpan.FromSeconds(30)));
        Assert.All(await Peers.SendAsync(engine.Port, [Peers.Adt("A01", "K1", "M1")]), a => Assert.Equal("AA", a.Get("MSA-1")));

        // Lost again, and another engine (here this test's session) takes it first: the engine stops rather than write beside it.
        await using (var takeOver = new Npgsql.NpgsqlCommand(EndLockSession
            + "; SELECT pg_advisory_lock(hashtextextended('streamengine journal ' || current_database() || '.' || current_schema(), 0))", test))
        {
            await takeOver.ExecuteNonQueryAsync(); // waits for the ended session's lock, then holds it
        }

        Assert.True(await engine.AwaitLogAsync("Another engine took this PostgreSQL database's journal lock", TimeSpan.FromSeconds(30)));
        Assert.Equal(1, await engine.StopAsync());
    }

    private static async Task AwaitNoAdvisoryLockAsync(string connectionString)
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var held = new Npgsql.NpgsqlCommand("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())", connection);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while ((long)(await held.ExecuteScalarAsync())! > 0)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the killed engine's journal lock was not released");
            await Task.Delay(50);
        }
    }

    private static async Task<long> JournalWritersAsync(string connectionString)
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var count = new Npgsql.NpgsqlCommand("SELECT COUNT(DISTINCT writer_uuid) FROM journal", connection);
        return (long)(await count.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task SinkThatCannotOpen_DoesNotKeepTheListenerClosed_AndCatchesUpWhenItCan()
    {
        using var folder = new TestFolder();
        string blocker = Path.Combine(folder.Path, "out"); // a file where the sink wants its folder
        await File.WriteAllTextAsync(blocker, "not a folder");
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);

        List<Hl7Message> acks = await Peers.SendAsync(engine.Port, [Peers.Adt("A01", "Q1", "M1"), Peers.Adt("A08", "Q2", "M1")]);
        Assert.All(acks, a => Assert.Equal("AA", a.Get("MSA-1")));

        File.Delete(blocker); // the outage ends: the sink's backoff restart finds its folder and drains the journal
        List<JsonDocument> lines = await folder.AwaitLinesAsync(2, TimeSpan.FromSeconds(90));
        Assert.Equal(["Q1", "Q2"], lines.Select(TestFolder.ControlId));
        Assert.Equal(0, await engine.StopAsync());
    }

    [Theory]
    [InlineData("fsync")]
    [InlineData("os")]
    public async Task KillDashNine_AtRandomMoments_WhileSending_LosesNoAckedMessage_AndDeliversNothingTwice(string durability)
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "it", port = 0 }, store: new { durability });
        var random = new Random(20261130);
        var acked = new List<string>();
        int ackedCount = 0;
        int sequence = 0;
        string? unacked = null;
        for (int round = 0; round < 3; round++)
        {
            EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
            int killAt = Volatile.Read(ref ackedCount) + random.Next(5, 60);
            using var killer = new CancellationTokenSource();
            Task kill = Task.Run(async () =>
            {
                // Kill once this many more messages are acknowledged, wherever the sender and the sink are then:
                // mid-write, between commit and ACK, or between two messages.
                while (Volatile.Read(ref ackedCount) < killAt && !killer.IsCancellationRequested)
                {
                    await Task.Yield();
                }

                await engine.KillAsync();
            });

            try
            {
                await using var client = await MllpClient.ConnectAsync("127.0.0.1", engine.Port, CancellationToken.None);
                while (true)
                {
                    string id = unacked ?? $"K{++sequence}";
                    unacked = id;
                    byte[] ack = await client.SendAsync(Peers.Adt(sequence % 2 == 0 ? "A08" : "A01", id, $"M{sequence % 5}"), TimeSpan.FromSeconds(30), CancellationToken.None);
                    Assert.True(Hl7Parser.TryParse(ack, out Hl7Message? parsed, out _));
                    Assert.Equal("AA", parsed!.Get("MSA-1"));
                    acked.Add(id);
                    Interlocked.Increment(ref ackedCount);
                    unacked = null;
                }
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or TimeoutException)
            {
                // The engine died under us: what was not acknowledged is sent again after the restart.
            }

            killer.Cancel();
            await kill;
            await engine.DisposeAsync();
        }

        await using EngineProcess last = await EngineProcess.StartAsync(folder.Path);
        await folder.AwaitLinesAsync(acked.Count);
        Assert.Equal(0, await last.StopAsync());
        List<JsonDocument> lines = folder.Lines();

        List<string> delivered = lines.Select(TestFolder.ControlId).ToList();
        Assert.Empty(acked.Except(delivered));                                           // nothing ACKed is lost
        Assert.Equal(lines.Count, lines.Select(TestFolder.DeliveryId).Distinct().Count()); // no journal entry twice
        // A message resent after a lost ACK is recognised by dedupe: every control id once.
        Assert.Equal(delivered.Count, delivered.Distinct().Count());
    }
}
