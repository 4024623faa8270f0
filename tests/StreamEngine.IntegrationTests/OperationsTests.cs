using System.Text.Json;
using StreamEngine.Hl7v2;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// The operator's commands against a running engine, through its admin endpoint, run as a user runs them:
/// status (the conservation law), quarantine list/skip, trace by control id and by MRN, replay (dry and real).
/// </summary>
public sealed class OperationsTests
{
    private static byte[] Message(string trigger, string controlId, string pid3, string visit) => System.Text.Encoding.ASCII.GetBytes(
        $"MSH|^~\\&|PAS|RX1|ROUTE|RX1|20261130081500||ADT^{trigger}^ADT_A01|{controlId}|P|2.4\r" +
        $"PID|1||{pid3}||TESTER^PAT||19800101|F\rPV1|1|I|WARD1^^^R0B01||||||||||||||||{visit}^^^R0B\r");

    [Fact]
    public async Task PoisonMessage_ParksOnlyItsPatient_AndTheCommandsSeeAndSettleIt()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "ops", port = 0 }, admin: new { port = 0 });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        Assert.True(await engine.AwaitLogAsync("Admin endpoint ready"));
        string config = Path.Combine(folder.Path, "streamengine.json");

        await using (MllpClient client = await MllpClient.ConnectAsync("127.0.0.1", engine.Port, CancellationToken.None))
        {
            foreach (byte[] message in new[]
            {
                Message("A01", "G1", "M1^^^R0B^MR", "V1"),
                Message("A01", "BAD1", string.Empty, "V9"), // no patient identifier: cannot map; its key is visit V9
                Message("A01", "G2", "M2^^^R0B^MR", "V2"),
                Message("A08", "BAD2", string.Empty, "V9"), // same patient key: parked behind BAD1, in order
                Message("A08", "G3", "M1^^^R0B^MR", "V1"),
            })
            {
                Assert.True(Hl7Parser.TryParse(await client.SendAsync(message, TimeSpan.FromSeconds(30), CancellationToken.None), out Hl7Message? ack, out _));
                Assert.Equal("AA", ack!.Get("MSA-1"));
            }
        }

        Assert.Equal(["G1", "G2", "G3"], TestFolder.InJournalOrder(await folder.AwaitLinesAsync(3)).Select(TestFolder.ControlId));
        JsonElement sink = await SettledSinkAsync(config, received: 5);
        Assert.Equal((3, 0, 1, 1, 0), Counts(sink));
        (int statusExit, string statusText) = await CliTests.RunAsync("status", "-c", config);
        Assert.Equal(0, statusExit);
        Assert.Contains("stream ingest/ops/default: 5 journaled\n", statusText.ReplaceLineEndings("\n"), StringComparison.Ordinal); // running: no remark

        (int exit, string stdout) = await CliTests.RunAsync("quarantine", "list", "--json", "-c", config);
        Assert.Equal(0, exit);
        JsonElement item = JsonDocument.Parse(stdout).RootElement.GetProperty("items").EnumerateArray().Single();
        string id = item.GetProperty("id").GetString()!;
        Assert.Equal(("fhir/ops/2", "BAD1", 1), (id, item.GetProperty("controlId").GetString(), item.GetProperty("parked").GetInt32()));
        Assert.DoesNotContain("TESTER", stdout, StringComparison.Ordinal); // no content unless --raw
        (exit, stdout) = await CliTests.RunAsync("quarantine", "show", id, "-c", config);
        Assert.Equal(0, exit);
        string[] shown = stdout.ReplaceLineEndings("\n").TrimEnd().Split('\n'); // text, as list prints it, then what is parked
        Assert.StartsWith($"{id}  {item.GetProperty("reason").GetString()}  ADT^A01^ADT_A01 BAD1  since ", shown[0], StringComparison.Ordinal);
        Assert.Equal(["parked behind it (sequence numbers): 4"], shown[1..]);
        (exit, stdout) = await CliTests.RunAsync("quarantine", "show", id, "--json", "-c", config);
        Assert.Equal((0, 1), (exit, JsonDocument.Parse(stdout).RootElement.GetProperty("parkedSequenceNrs").GetArrayLength()));
        (exit, stdout, string showError) = await CliTests.RunWithErrorsAsync("quarantine", "show", "fhir/ops/99999", "-c", config);
        Assert.Equal((1, "", true), (exit, stdout, showError.Contains("no open quarantine fhir/ops/99999", StringComparison.Ordinal))); // words on stderr, not JSON
        (int badId, _, string badIdError) = await CliTests.RunWithErrorsAsync("quarantine", "show", "not an id", "-c", config);
        Assert.Equal((2, true), (badId, badIdError.Contains("is not a quarantine id", StringComparison.Ordinal)));
        (int both, _, string bothError) = await CliTests.RunWithErrorsAsync("replay", "--sink", "fhir", "--from-seq", "1", "--since", "2026-01-01T00:00Z", "-c", config);
        Assert.Equal((2, true), (both, bothError.Contains("alternatives", StringComparison.Ordinal)));
        // Other usage errors exit 2 too: a sink the configuration does not have (not "0 open"), an argument that does not
        // parse, and both of trace's alternatives.
        (int noSink, string noSinkOut, string noSinkError) = await CliTests.RunWithErrorsAsync("quarantine", "list", "--sink", "nosuch", "-c", config);
        Assert.Equal((2, true, false), (noSink, noSinkError.Contains("no sink 'nosuch'", StringComparison.Ordinal), noSinkOut.Contains("open", StringComparison.Ordinal)));
        (int notANumber, _) = await CliTests.RunAsync("replay", "--sink", "fhir", "--from-seq", "abc", "-c", config);
        Assert.Equal(2, notANumber);
        (int bothKeys, _) = await CliTests.RunAsync("trace", "--control-id", "BAD2", "--mrn", "M1", "-c", config);
        Assert.Equal(2, bothKeys);

        stdout = await TraceAsync(config, "--control-id", "BAD2"); // the index is written a moment after the commit
        Assert.Contains("sink fhir: parked behind sequence 2", stdout, StringComparison.Ordinal);

        (int noReason, _) = await CliTests.RunAsync("quarantine", "skip", id, "--reason", " ", "-c", config);
        Assert.Equal(2, noReason); // a skip records why: a blank reason is a usage error, and nothing is skipped

        // Skip BAD1: BAD2 is released, fails the same way, and takes its place in quarantine.
        (exit, stdout) = await CliTests.RunAsync("quarantine", "skip", id, "--reason", "test patient from go-live", "-c", config);
        Assert.Equal(0, exit);
        (_, stdout) = await CliTests.RunAsync("quarantine", "list", "--json", "-c", config);
        Assert.Equal("fhir/ops/4", JsonDocument.Parse(stdout).RootElement.GetProperty("items").EnumerateArray().Single().GetProperty("id").GetString());
        Assert.Equal((3, 1, 1, 0, 0), Counts(await SettledSinkAsync(config, received: 5)));

        (exit, stdout) = await CliTests.RunAsync("trace", "--mrn", "M1", "-c", config);
        Assert.Equal(0, exit);
        Assert.Equal(2, stdout.Split('\n').Count(l => l.Contains("sink fhir: delivered", StringComparison.Ordinal)));

        // Replay, from the start, every message of each patient with an A08: M1 (G1, G3) and visit V9 (BAD1, which an
        // operator skipped and stays skipped, and BAD2, which fails again).
        (exit, stdout) = await CliTests.RunAsync("replay", "--sink", "fhir", "--from-seq", "1", "--type", "ADT^A08", "--dry-run", "-c", config);
        Assert.Equal(0, exit);
        Assert.Contains("2 matching, 3 messages would go (not counting 1 an operator skipped: they stay skipped)", stdout, StringComparison.Ordinal);
        (exit, stdout) = await CliTests.RunAsync("replay", "--sink", "fhir", "--from-seq", "1", "--type", "ADT^A08", "--dry-run", "--json", "-c", config);
        JsonElement dry = JsonDocument.Parse(stdout).RootElement.GetProperty("results").EnumerateArray().Single();
        Assert.Equal((4, 1), (dry.GetProperty("messages").GetInt64(), dry.GetProperty("filtered").GetInt64())); // as the real run counts them
        (exit, stdout) = await CliTests.RunAsync("replay", "--sink", "fhir", "--from-seq", "1", "--type", "ADT^A08", "--json", "-c", config);
        JsonElement result = JsonDocument.Parse(stdout).RootElement.GetProperty("results").EnumerateArray().Single();
        Assert.Equal((4, 2, 1, 1), (result.GetProperty("messages").GetInt64(), result.GetProperty("delivered").GetInt64(), result.GetProperty("filtered").GetInt64(),
            result.GetProperty("failed").GetInt64()));
        Assert.Equal(1, exit); // failures in a replay are reported in the exit code
        string replayFile = Directory.GetFiles(Path.Combine(folder.Out, "replays"), "*.ndjson", SearchOption.AllDirectories).Single();
        string[] replayed = await File.ReadAllLinesAsync(replayFile);
        Assert.Equal(["G1", "G3"], replayed.Select(l => TestFolder.ControlId(JsonDocument.Parse(l))));
        Assert.All(replayed, l => Assert.EndsWith("@" + result.GetProperty("replayId").GetString(), TestFolder.DeliveryId(JsonDocument.Parse(l)), StringComparison.Ordinal));
        Assert.Equal(3, folder.Lines().Count); // the live output is untouched

        // Without a filter, everything from the start point goes (one pass over the journal).
        (exit, stdout) = await CliTests.RunAsync("replay", "--sink", "fhir", "--from-seq", "2", "--dry-run", "-c", config);
        Assert.Equal(0, exit);
        Assert.Contains("4 matching, 3 messages would go", stdout, StringComparison.Ordinal); // not BAD1, skipped
        (exit, stdout) = await CliTests.RunAsync("replay", "--sink", "fhir", "--from-seq", "2", "--json", "-c", config);
        JsonElement all = JsonDocument.Parse(stdout).RootElement.GetProperty("results").EnumerateArray().Single();
        Assert.Equal((4, 4, 2, 1, 1), (all.GetProperty("matched").GetInt64(), all.GetProperty("messages").GetInt64(), all.GetProperty("delivered").GetInt64(),
            all.GetProperty("filtered").GetInt64(), all.GetProperty("failed").GetInt64()));
        string allFile = Directory.GetFiles(Path.Combine(folder.Out, "replays"), "*.ndjson", SearchOption.AllDirectories).Single(f => f != replayFile);
        Assert.Equal(["G2", "G3"], (await File.ReadAllLinesAsync(allFile)).Select(l => TestFolder.ControlId(JsonDocument.Parse(l))).Order());

        // An unknown sink or stream, a start that is no sequence number and a rate that is no rate are usage errors (exit
        // 2), answered by name before anything is asked of the engine.
        (exit, _, string stderr) = await CliTests.RunWithErrorsAsync("replay", "--sink", "nosuch", "--from-seq", "1", "-c", config);
        Assert.Equal((2, true), (exit, stderr.Contains("replay: no sink 'nosuch' in this configuration (sinks: fhir)", StringComparison.Ordinal)));
        (exit, _, stderr) = await CliTests.RunWithErrorsAsync("replay", "--sink", "fhir", "--stream", "nosuch", "--from-seq", "1", "--dry-run", "-c", config);
        Assert.Equal((2, true), (exit, stderr.Contains("replay: no stream 'nosuch' in this configuration (listeners: ops)", StringComparison.Ordinal)));
        foreach (string start in new[] { "-5", "0" })
        {
            (exit, _, stderr) = await CliTests.RunWithErrorsAsync("replay", "--sink", "fhir", "--from-seq", start, "--dry-run", "-c", config);
            Assert.Equal((2, true), (exit, stderr.Contains($"replay: --from-seq {start} is not a journal sequence number", StringComparison.Ordinal)));
        }

        (exit, _, stderr) = await CliTests.RunWithErrorsAsync("replay", "--sink", "fhir", "--from-seq", "1", "--rate", "0", "-c", config);
        Assert.Equal((2, true), (exit, stderr.Contains("replay: --rate 0 is not a positive number of messages a second", StringComparison.Ordinal)));

        // --failed-only retries every open quarantine: BAD2 fails again, and so does a frame with no MSH (answered AR,
        // quarantined as rejected), which is counted rather than left out.
        await using (MllpClient client = await MllpClient.ConnectAsync("127.0.0.1", engine.Port, CancellationToken.None))
        {
            Assert.True(Hl7Parser.TryParse(await client.SendAsync("EVN|A01|20261130\r"u8.ToArray(), TimeSpan.FromSeconds(30), CancellationToken.None),
                out Hl7Message? nak, out _));
            Assert.Equal("AR", nak!.Get("MSA-1"));
        }

        Assert.Equal((3, 1, 2, 0, 0), Counts(await SettledSinkAsync(config, received: 6)));
        (exit, stdout) = await CliTests.RunAsync("replay", "--sink", "fhir", "--failed-only", "--dry-run", "--json", "-c", config);
        Assert.Equal(0, exit);
        Assert.Equal(2, JsonDocument.Parse(stdout).RootElement.GetProperty("results")[0].GetProperty("matched").GetInt64());
        (exit, stdout) = await CliTests.RunAsync("replay", "--sink", "fhir", "--failed-only", "--json", "-c", config);
        JsonElement retried = JsonDocument.Parse(stdout).RootElement.GetProperty("results")[0];
        Assert.Equal((2, 0, 2), (retried.GetProperty("matched").GetInt64(), retried.GetProperty("delivered").GetInt64(), retried.GetProperty("failed").GetInt64()));
        Assert.Equal(1, exit);
        (_, stdout) = await CliTests.RunAsync("quarantine", "list", "--json", "-c", config);
        Assert.Equal(2, JsonDocument.Parse(stdout).RootElement.GetProperty("items").GetArrayLength());

        // A frame rejected at ingest (no MSH-9) is found by trace under the control id its header gave, not "no match".
        await using (MllpClient client = await MllpClient.ConnectAsync("127.0.0.1", engine.Port, CancellationToken.None))
        {
            Assert.True(Hl7Parser.TryParse(await client.SendAsync("MSH|^~\\&|PAS|RX1|ROUTE|RX1|20261130081500|||REJ1|P|2.4\rPID|1||M7^^^R0B^MR\r"u8.ToArray(),
                TimeSpan.FromSeconds(30), CancellationToken.None), out Hl7Message? nak, out _));
            Assert.Equal(("AR", "REJ1"), (nak!.Get("MSA-1"), nak.Get("MSA-2")));
        }

        stdout = await TraceAsync(config, "--control-id", "REJ1");
        Assert.Contains("REJ1 rejected at ingest (", stdout, StringComparison.Ordinal);
        Assert.Contains("for quarantine, answered with a reject (AR; CR in enhanced mode", stdout, StringComparison.Ordinal);
        Assert.Contains("sink fhir: quarantined: ", stdout, StringComparison.Ordinal);

        Assert.Equal((3, 1, 3, 0, 0), Counts(await SettledSinkAsync(config, received: 7)));
        (_, string running) = await CliTests.RunAsync("quarantine", "list", "--json", "-c", config);
        Assert.Equal(0, await engine.StopAsync());
        (exit, stdout) = await CliTests.RunAsync("trace", "--control-id", "G2", "-c", config); // offline: the index and the sinks' records
        Assert.Equal(0, exit);
        Assert.Contains("G2 ADT^A01^ADT_A01 from PAS/RX1", stdout, StringComparison.Ordinal);
        Assert.Contains("sink fhir: delivered", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("or filtered", stdout, StringComparison.Ordinal);
        (exit, stdout) = await CliTests.RunAsync("trace", "--control-id", "BAD2", "-c", config);
        Assert.Equal(0, exit);
        Assert.Contains("sink fhir: quarantined: MissingPatientIdentifier", stdout, StringComparison.Ordinal);

        // With the engine stopped, status and quarantine list and show read what it recorded, and write nothing.
        long rows = JournalRows(folder);
        List<string> files = folder.StoreFiles();
        (exit, stdout, stderr) = await CliTests.RunWithErrorsAsync("status", "--json", "-c", config);
        Assert.Equal(0, exit);
        Assert.Contains("reading what the engine recorded from the store", stderr, StringComparison.Ordinal);
        JsonElement recorded = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(("recorded", 7), (recorded.GetProperty("streams")[0].GetProperty("state").GetString(), recorded.GetProperty("streams")[0].GetProperty("journaled").GetInt64()));
        JsonElement stopped = recorded.GetProperty("sinks").EnumerateArray().Single();
        Assert.Equal(("recorded", 7), (stopped.GetProperty("state").GetString(), stopped.GetProperty("received").GetInt64()));
        Assert.Equal((3, 1, 3, 0, 0), Counts(stopped));
        (exit, stdout) = await CliTests.RunAsync("status", "-c", config);
        Assert.Equal(0, exit);
        Assert.Contains("stream ingest/ops/default: 7 journaled (read from the store: as the engine last recorded it)", stdout, StringComparison.Ordinal);
        (exit, stdout) = await CliTests.RunAsync("quarantine", "list", "--json", "-c", config);
        Assert.Equal(0, exit);
        Assert.Equal(JsonDocument.Parse(running).RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString() + " " + i.GetProperty("reason").GetString()),
            JsonDocument.Parse(stdout).RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString() + " " + i.GetProperty("reason").GetString()));
        (exit, stdout) = await CliTests.RunAsync("quarantine", "show", "fhir/ops/4", "--raw", "--json", "-c", config);
        Assert.Equal(0, exit);
        Assert.Contains("|BAD2|", JsonDocument.Parse(stdout).RootElement.GetProperty("raw").GetString(), StringComparison.Ordinal);
        (exit, stdout, stderr) = await CliTests.RunWithErrorsAsync("quarantine", "show", "fhir/ops/1", "-c", config);
        Assert.Equal((1, "", true, false), (exit, stdout, stderr.Contains("no open quarantine fhir/ops/1", StringComparison.Ordinal), stderr.Contains('{'))); // G1 was delivered: said in words
        (exit, _, stderr) = await CliTests.RunWithErrorsAsync("quarantine", "retry", "fhir/ops/4", "-c", config); // acts only through the engine
        Assert.Equal(3, exit);
        Assert.Contains("the engine is not running (admin.port is 0", stderr, StringComparison.Ordinal);
        Assert.Equal(files, folder.StoreFiles());
        Assert.Equal(rows, JournalRows(folder));
    }

    [Fact]
    public async Task BeforeTheEngineHasEverRun_StatusSaysNothingIsRecorded_AndCreatesNoStore()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "ops", port = 0 }, admin: new { port = 0 });
        string config = Path.Combine(folder.Path, "streamengine.json");
        (int exit, _, string stderr) = await CliTests.RunWithErrorsAsync("status", "-c", config);
        Assert.Equal(1, exit);
        Assert.Contains("status: nothing recorded: no journal in", stderr, StringComparison.Ordinal);
        (exit, _, stderr) = await CliTests.RunWithErrorsAsync("quarantine", "list", "-c", config);
        Assert.Equal(1, exit);
        Assert.False(File.Exists(StreamEngine.Host.SqliteStore.JournalFile(Path.Combine(folder.Path, "data"))));
    }

    [Fact]
    public async Task ACleanStop_RecordsEachSinksProgress_SoStatusWithTheEngineStoppedIsExact()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "ops", port = 0 }, admin: new { port = 0 });
        string config = Path.Combine(folder.Path, "streamengine.json");
        await using (EngineProcess engine = await EngineProcess.StartAsync(folder.Path))
        {
            Assert.True(await engine.AwaitLogAsync("Admin endpoint ready"));
            Assert.All(await Peers.SendAsync(engine.Port, [.. Enumerable.Range(1, 20).Select(i => Message("A08", $"C{i}", $"M{i % 4}^^^R0B^MR", $"V{i % 4}"))]),
                ack => Assert.Equal("AA", ack.Get("MSA-1")));
            Assert.Equal((20, 0, 0, 0, 0), Counts(await SettledSinkAsync(config, received: 20)));
            Assert.Equal(0, await engine.StopAsync()); // at once: the periodic record (every second) may not have run since
        }

        (int exit, string stdout) = await CliTests.RunAsync("status", "--json", "-c", config);
        Assert.Equal(0, exit);
        Assert.Equal((20, 0, 0, 0, 0), Counts(JsonDocument.Parse(stdout).RootElement.GetProperty("sinks").EnumerateArray().Single()));
    }

    [Fact]
    public async Task TraceWithTheEngineStopped_TellsDeliveredFromFiltered_AsTheSinksSettingsSay()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "ops", port = 0 }, admin: new { port = 0 },
            sink: new { name = "fhir", type = "ndjson", path = folder.Out, filter = new { messageTypes = new[] { "ADT" } } });
        string config = Path.Combine(folder.Path, "streamengine.json");
        await using (EngineProcess engine = await EngineProcess.StartAsync(folder.Path))
        {
            Assert.True(await engine.AwaitLogAsync("Admin endpoint ready"));
            Assert.All(await Peers.SendAsync(engine.Port, [Message("A01", "D1", "M1^^^R0B^MR", "V1"),
                "MSH|^~\\&|LAB|RX1|X|Y|20261201||ORU^R01|F1|P|2.4\rPID|1||M1^^^R0B^MR\r"u8.ToArray()]), ack => Assert.Equal("AA", ack.Get("MSA-1")));
            Assert.Equal((1, 1, 0, 0, 0), Counts(await SettledSinkAsync(config, received: 2)));
            Assert.Equal(0, await engine.StopAsync());
        }

        (int exit, string stdout) = await CliTests.RunAsync("trace", "--control-id", "D1", "-c", config);
        Assert.Equal(0, exit);
        Assert.Contains("sink fhir: delivered", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("filtered", stdout, StringComparison.Ordinal);
        (exit, stdout) = await CliTests.RunAsync("trace", "--control-id", "F1", "-c", config);
        Assert.Equal(0, exit);
        Assert.Contains("sink fhir: filtered", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACleanStopUnderLoad_CountsEveryLineTheSinkWrote()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "ops", port = 0 }, admin: new { port = 0 });
        string config = Path.Combine(folder.Path, "streamengine.json");
        await using (EngineProcess engine = await EngineProcess.StartAsync(folder.Path))
        {
            // Four senders stream without pause, 200 patients between them, until the engine is gone under them.
            using var sending = new CancellationTokenSource();
            Task[] senders = [.. Enumerable.Range(0, 4).Select(c => Task.Run(async () =>
            {
                await using var sender = new StreamEngine.Mllp.MllpSender(new StreamEngine.Mllp.MllpSenderOptions
                {
                    Host = "127.0.0.1", Port = engine.Port, MaxRetries = 0, AckTimeout = TimeSpan.FromSeconds(10),
                });
                for (int i = 0; !sending.IsCancellationRequested; i++)
                {
                    int patient = (c * 50) + (i % 50);
                    if ((await sender.SendAsync(Message("A08", $"L{c}-{i}", $"M{patient}^^^R0B^MR", $"V{patient}"), CancellationToken.None)).Code == "connection")
                    {
                        return;
                    }
                }
            }))];
            await folder.AwaitLinesAsync(300);
            Assert.Equal(0, await engine.StopAsync()); // lanes busy, frames arriving
            await sending.CancelAsync();
            await Task.WhenAll(senders);
            Assert.DoesNotContain("[ERROR]", engine.Logs, StringComparison.Ordinal); // a frame left unanswered by the stop is no error
        }

        (int exit, string stdout) = await CliTests.RunAsync("status", "--json", "-c", config);
        Assert.Equal(0, exit);
        JsonElement sink = JsonDocument.Parse(stdout).RootElement.GetProperty("sinks").EnumerateArray().Single();
        (long delivered, long filtered, long quarantined, long parked, long inFlight) = Counts(sink);
        Assert.Equal(folder.Lines().Count, delivered); // no line written after the record
        Assert.Equal(sink.GetProperty("received").GetInt64(), delivered + filtered + quarantined + parked + inFlight);
    }

    [SkippableFact]
    public async Task OnPostgreSql_TheStoppedEnginesRecordIsReadOnly_AndAnEmptyDatabaseStaysEmpty()
    {
        string connectionString = await TestPostgres.CreateDatabaseAsync();
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "ops", port = 0 }, store: new { provider = "postgresql", durability = "fsync", connectionString }, admin: new { port = 0 });
        string config = Path.Combine(folder.Path, "streamengine.json");
        async Task<long> ScalarAsync(string sql)
        {
            await using var db = new Npgsql.NpgsqlConnection(connectionString);
            await db.OpenAsync();
            await using var command = new Npgsql.NpgsqlCommand(sql, db);
            return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
        }

        (int exit, _, string stderr) = await CliTests.RunWithErrorsAsync("status", "-c", config);
        Assert.Equal((1, true), (exit, stderr.Contains("nothing recorded", StringComparison.Ordinal)));
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'")); // no table made

        await using (EngineProcess engine = await EngineProcess.StartAsync(folder.Path))
        {
            Assert.True(await engine.AwaitLogAsync("Admin endpoint ready"));
            Assert.All(await Peers.SendAsync(engine.Port, [Message("A01", "G1", "M1^^^R0B^MR", "V1"), Message("A01", "BAD1", string.Empty, "V9"), Message("A08", "BAD2", string.Empty, "V9")]),
                ack => Assert.Equal("AA", ack.Get("MSA-1")));
            await SettledSinkAsync(config, received: 3);
            await engine.KillAsync();
        }

        // (The commands' sessions are read-only transactions: a write would fail them. The rows are counted all the same.)
        const string Rows = "SELECT (SELECT COUNT(*) FROM journal) + (SELECT COUNT(*) FROM snapshot)";
        long rows = await ScalarAsync(Rows);
        string stdout;
        (exit, stdout) = await CliTests.RunAsync("quarantine", "list", "--json", "-c", config);
        Assert.Equal(0, exit);
        JsonElement item = JsonDocument.Parse(stdout).RootElement.GetProperty("items").EnumerateArray().Single();
        Assert.Equal(("fhir/ops/2", 1), (item.GetProperty("id").GetString(), item.GetProperty("parked").GetInt32()));
        (exit, stdout) = await CliTests.RunAsync("status", "--json", "-c", config);
        Assert.Equal(0, exit);
        JsonElement sink = JsonDocument.Parse(stdout).RootElement.GetProperty("sinks").EnumerateArray().Single();
        Assert.Equal((3, 1, 1), (sink.GetProperty("received").GetInt64(), sink.GetProperty("counts").GetProperty("quarantined").GetInt64(),
            sink.GetProperty("counts").GetProperty("parked").GetInt64()));
        (exit, stdout) = await CliTests.RunAsync("trace", "--control-id", "BAD2", "-c", config);
        Assert.Equal(0, exit);
        Assert.Contains("sink fhir: parked behind sequence 2", stdout, StringComparison.Ordinal);
        Assert.Equal(rows, await ScalarAsync(Rows));
    }

    private static long JournalRows(TestFolder folder)
    {
        // Read-only and not pooled, as the commands read: a read-write connection made the WAL file the test compares, and
        // the pool closing it later (a moment after, whenever) took that file away again.
        using var db = new Microsoft.Data.Sqlite.SqliteConnection(StreamEngine.Host.SqliteStore.ReadOnly(
            StreamEngine.Host.SqliteStore.ConnectionString(Path.Combine(folder.Path, "data"))) + ";Pooling=False");
        db.Open();
        using var count = db.CreateCommand();
        count.CommandText = "SELECT (SELECT COUNT(*) FROM journal) + (SELECT COUNT(*) FROM snapshot)";
        return (long)count.ExecuteScalar()!;
    }

    [SkippableFact]
    public async Task AFileSinkWhoseOutputBecomesUnwritable_LogsOneWarningPerFailure_NoError_AndCatchesUpOnceWritable()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "ops", port = 0 });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        Assert.All(await Peers.SendAsync(engine.Port, [Message("A01", "U1", "M1^^^R0B^MR", "V1")]), a => Assert.Equal("AA", a.Get("MSA-1")));
        await folder.AwaitLinesAsync(1);

        // Immutable (chattr +i): refused even to root, as a read-only remount or a revoked permission would be.
        string[] output = [folder.Out, .. Directory.GetFiles(folder.Out)];
        Skip.IfNot(await ChattrAsync("+i", output), "chattr +i is not supported on this file system");
        try
        {
            Assert.All(await Peers.SendAsync(engine.Port, [Message("A08", "U2", "M2^^^R0B^MR", "V2")]), a => Assert.Equal("AA", a.Get("MSA-1")));
            Assert.True(await engine.AwaitLogAsync("failed (UnauthorizedAccessException", TimeSpan.FromSeconds(60)), engine.Logs);
        }
        finally
        {
            await ChattrAsync("-i", output);
        }

        Assert.Equal(2, (await folder.AwaitLinesAsync(2, TimeSpan.FromSeconds(90))).Count);
        Assert.True(await engine.AwaitLogAsync("works again: its watermark moved to 2 after ", TimeSpan.FromSeconds(60)), engine.Logs);
        Assert.Equal(0, await engine.StopAsync());
        Assert.DoesNotContain("[ERROR]", engine.Logs, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", engine.Logs, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task AFileSinkThatCannotOpenItsOutput_WithNothingToDeliver_SaysWhenItWorksAgain()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "ops", port = 0 });
        Directory.CreateDirectory(folder.Out);
        Skip.IfNot(await ChattrAsync("+i", [folder.Out]), "chattr +i is not supported on this file system");
        try
        {
            await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
            Assert.True(await engine.AwaitLogAsync("failed (UnauthorizedAccessException", TimeSpan.FromSeconds(60)), engine.Logs);
            Assert.True(await ChattrAsync("-i", [folder.Out]));

            // No message ever came, so no watermark will move: the restart that opens the file says so itself.
            Assert.True(await engine.AwaitLogAsync("works again: up to date at sequence 0 after ", TimeSpan.FromSeconds(60)), engine.Logs);
            Assert.All(await Peers.SendAsync(engine.Port, [Message("A01", "U9", "M9^^^R0B^MR", "V9")]), a => Assert.Equal("AA", a.Get("MSA-1")));
            Assert.Single(await folder.AwaitLinesAsync(1));
            Assert.Equal(0, await engine.StopAsync());
            Assert.DoesNotContain("[ERROR]", engine.Logs, StringComparison.Ordinal);
        }
        finally
        {
            await ChattrAsync("-i", [folder.Out]); // whatever failed, the folder stays deletable
        }
    }

    // False when chattr is missing or the file system has no immutable flag (tmpfs): the test is then skipped.
    private static async Task<bool> ChattrAsync(string flag, string[] paths)
    {
        try
        {
            using var chattr = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("chattr", [flag, .. paths])
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            })!;
            await chattr.WaitForExitAsync();
            return chattr.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    [SkippableFact]
    public async Task ASinkThatKeepsFailing_IsShownAsRestarting_AndTheCommandsStillAnswer()
    {
        // A FHIR server answering 503: the sink fails, stops and is restarted after a backoff, again and again. Between
        // a failure and its restart there is no sink actor: the commands must say so promptly, not time out.
        (PeerProcess server, HttpClient http) = await FhirServerTests.StartServerAsync();
        await using PeerProcess serverLifetime = server;
        using HttpClient httpLifetime = http;
        (await http.PostAsync("$outage?mode=503", null)).EnsureSuccessStatusCode();
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "ops", port = 0 }, admin: new { port = 0 },
            sink: new { name = "server", type = "fhir", baseUrl = http.BaseAddress!.AbsoluteUri, maxAttempts = "2", timeout = "5" });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        Assert.True(await engine.AwaitLogAsync("Admin endpoint ready"));
        string config = Path.Combine(folder.Path, "streamengine.json");
        await using (MllpClient client = await MllpClient.ConnectAsync("127.0.0.1", engine.Port, CancellationToken.None))
        {
            Assert.True(Hl7Parser.TryParse(await client.SendAsync(Message("A01", "R1", "M1^^^R0B^MR", "V1"), TimeSpan.FromSeconds(30), CancellationToken.None),
                out Hl7Message? ack, out _));
            Assert.Equal("AA", ack!.Get("MSA-1"));
        }

        // The failure is logged in one line, without Akka's stack traces.
        Assert.True(await engine.AwaitLogAsync("Sink server of listener ops failed (", TimeSpan.FromSeconds(60)), engine.Logs);
        Assert.DoesNotContain("   at ", engine.Logs, StringComparison.Ordinal);

        // Status answers throughout; once the backoff is long enough it catches the sink between incarnations.
        string state = string.Empty;
        for (int attempt = 0; attempt < 100 && state != "restarting"; attempt++)
        {
            (int exit, string stdout, string stderr) = await CliTests.RunWithErrorsAsync("status", "--json", "-c", config);
            Assert.True(exit == 0, stderr);
            JsonElement sink = JsonDocument.Parse(stdout).RootElement.GetProperty("sinks").EnumerateArray().Single();
            state = sink.GetProperty("state").GetString()!;
            if (sink.GetProperty("countsKnown").GetBoolean()) // not before the sink first answered
            {
                Assert.Equal(1, sink.GetProperty("received").GetInt64());
            }
        }

        Assert.Equal("restarting", state);
        (int listExit, _, string listErrors) = await CliTests.RunWithErrorsAsync("quarantine", "list", "-c", config);
        Assert.True(listExit == 0 || listErrors.Contains("sink server/ops (restarting): its quarantine is not listed", StringComparison.Ordinal), listErrors);
        string traced = await TraceAsync(config, "--control-id", "R1");
        Assert.Contains("sink server: ", traced, StringComparison.Ordinal);

        // Back in service: the message arrives.
        (await http.PostAsync("$outage?mode=off", null)).EnsureSuccessStatusCode();
        JsonElement settled = await SettledSinkAsync(config, received: 1, timeoutAttempts: 400);
        Assert.Equal((1, 0, 0, 0, 0), Counts(settled));
        Assert.True(await engine.AwaitLogAsync("works again: its watermark moved to 1 after ", TimeSpan.FromSeconds(60)), engine.Logs); // the outage's end
        int resources = await TotalAsync(http, "Patient") + await TotalAsync(http, "Provenance");

        // A replay to a FHIR sink goes to its server again (no output folder), as upserts: the server holds no more.
        (int replayExit, string replayed) = await CliTests.RunAsync("replay", "--sink", "server", "--from-seq", "1", "--json", "-c", config);
        Assert.Equal(0, replayExit);
        JsonElement result = JsonDocument.Parse(replayed).RootElement.GetProperty("results").EnumerateArray().Single();
        Assert.Equal(1, result.GetProperty("delivered").GetInt64());
        Assert.Equal(JsonValueKind.Null, result.TryGetProperty("output", out JsonElement output) ? output.ValueKind : JsonValueKind.Null);
        Assert.Equal(resources, await TotalAsync(http, "Patient") + await TotalAsync(http, "Provenance"));
        Assert.Equal(0, await engine.StopAsync());
    }

    private static async Task<int> TotalAsync(HttpClient http, string type)
    {
        using JsonDocument result = JsonDocument.Parse(await http.GetStringAsync(type + "?_summary=count"));
        return result.RootElement.GetProperty("total").GetInt32();
    }

    [Fact]
    public async Task AMappingWarning_IsLoggedOnceWithoutContent_ThenCounted_AndTraceShowsIt()
    {
        // A Trust profile naming an MRN authority the sender does not use: each Patient is keyed on another identifier,
        // which the operator must hear of, once, not once per message.
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "ops", port = 0 }, admin: new { port = 0 });
        string config = Path.Combine(folder.Path, "streamengine.json");
        string profile = Path.Combine(folder.Path, "trust.json");
        await File.WriteAllTextAsync(profile, """{ "mrn": { "assigningAuthority": "R0B" } }""");
        System.Text.Json.Nodes.JsonObject root = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(config))!.AsObject();
        root["mapping"] = new System.Text.Json.Nodes.JsonObject { ["profile"] = profile };
        await File.WriteAllTextAsync(config, root.ToJsonString());
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        Assert.True(await engine.AwaitLogAsync("Admin endpoint ready"));
        await using (MllpClient client = await MllpClient.ConnectAsync("127.0.0.1", engine.Port, CancellationToken.None))
        {
            foreach (byte[] message in new[]
            {
                Message("A01", "W1", "MRN8731^^^PASX^MR", "V1"),
                Message("A01", "W2", "MRN8732^^^PASX^MR", "V2"),
                Message("A01", "W3", "MRN8733^^^R0B^MR", "V3"),
            })
            {
                Assert.True(Hl7Parser.TryParse(await client.SendAsync(message, TimeSpan.FromSeconds(30), CancellationToken.None), out Hl7Message? ack, out _));
                Assert.Equal("AA", ack!.Get("MSA-1"));
            }
        }

        Assert.Equal((3, 0, 0, 0, 0), Counts(await SettledSinkAsync(config, received: 3)));
        // The first to settle (lanes run patients in parallel): sequence 1 or 2.
        Assert.True(await engine.AwaitLogAsync("of stream ingest/ops/default delivered with mapping warning MrnAuthorityNotFound@PID-3 (the first with it"), engine.Logs);
        Assert.Contains("  sink fhir: delivered, with mapping warnings: MrnAuthorityNotFound@PID-3\n",
            (await TraceAsync(config, "--control-id", "W2")).ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("  sink fhir: delivered\n", (await TraceAsync(config, "--control-id", "W3")).ReplaceLineEndings("\n"), StringComparison.Ordinal);

        Assert.Equal(0, await engine.StopAsync());
        string logs = engine.Logs;
        Assert.Single(logs.Split('\n'), l => l.Contains("delivered with mapping warning", StringComparison.Ordinal));
        Assert.Contains("Sink fhir: 1 (MrnAuthorityNotFound@PID-3 x1) more mapping warning(s) on stream ingest/ops/default since the last such line", logs, StringComparison.Ordinal);
        foreach (string content in new[] { "MRN873", "PASX", "TESTER" })
        {
            Assert.DoesNotContain(content, logs, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AdminEndpoint_RefusesAWrongToken()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "ops", port = 0 }, admin: new { port = 0 });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        Assert.True(await engine.AwaitLogAsync("Admin endpoint ready"));
        string address = (await File.ReadAllTextAsync(Path.Combine(folder.Path, "data", "admin.endpoint"))).Trim();
        using var http = new HttpClient();
        using HttpResponseMessage none = await http.GetAsync(address + "/status");
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, none.StatusCode);
        http.DefaultRequestHeaders.Authorization = new("Bearer", "not-the-token-at-all");
        using HttpResponseMessage wrong = await http.GetAsync(address + "/status");
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, wrong.StatusCode);
        http.DefaultRequestHeaders.Authorization = new("Bearer", (await File.ReadAllTextAsync(Path.Combine(folder.Path, "data", "admin.token"))).Trim());
        using HttpResponseMessage right = await http.GetAsync(address + "/status");
        Assert.True(right.IsSuccessStatusCode);
        foreach (string secret in new[] { "admin.token", Path.Combine("keys", "patient-key.hmac") })
        {
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(folder.Path, "data", secret)));
            }
        }

        if (!OperatingSystem.IsWindows())
        {
            // The data directory the engine made holds the journal's raw messages: its user's alone.
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(folder.Path, "data")));
            // So do the store's files it made: the journal, the index and their write-ahead logs.
            string[] store = Directory.GetFiles(Path.Combine(folder.Path, "data"), "*.db*");
            Assert.Contains(store, f => Path.GetFileName(f) == "streamengine.db");
            Assert.Contains(store, f => Path.GetFileName(f) == "index.db");
            foreach (string file in store)
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            }

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(folder.Path, "data", "keys")));
            Assert.DoesNotContain("other users may read or write it", engine.Logs, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ADataDirectoryOthersMayRead_IsNamedInAWarning_AndAPrivateOneIsNot()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var folder = new TestFolder();
        string data = Path.Combine(folder.Path, "data");
        Directory.CreateDirectory(data);
        File.SetUnixFileMode(data, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.OtherExecute); // traverse only
        File.WriteAllBytes(Path.Combine(data, "index.db"), []);
        File.SetUnixFileMode(Path.Combine(data, "index.db"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Null(StreamEngine.Host.DataDirectoryLock.OpenToOthers(data));

        File.SetUnixFileMode(data, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        File.WriteAllBytes(Path.Combine(data, "streamengine.db-wal"), []);
        File.SetUnixFileMode(Path.Combine(data, "streamengine.db-wal"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        Assert.Equal($"The data directory '{data}' holds raw messages and other users may read or write it: the folder is mode 0750, "
            + "streamengine.db-wal is mode 0604. chmod 700 the folder and 600 its *.db* files", StreamEngine.Host.DataDirectoryLock.OpenToOthers(data));
    }

    private static async Task<string> TraceAsync(string config, params string[] query)
    {
        for (int attempt = 0; ; attempt++)
        {
            (int exit, string stdout) = await CliTests.RunAsync(["trace", .. query, "-c", config]);
            if (exit == 0 || attempt == 50)
            {
                return stdout;
            }

            await Task.Delay(100); // bounded wait for the index write that follows the commit
        }
    }

    private static (long, long, long, long, long) Counts(JsonElement sink)
    {
        JsonElement counts = sink.GetProperty("counts");
        return (counts.GetProperty("delivered").GetInt64(), counts.GetProperty("filtered").GetInt64(), counts.GetProperty("quarantined").GetInt64(),
            counts.GetProperty("parked").GetInt64(), sink.GetProperty("inFlight").GetInt64());
    }

    private static async Task<JsonElement> SettledSinkAsync(string config, long received, int timeoutAttempts = 50)
    {
        for (int attempt = 0; ; attempt++)
        {
            (int exit, string stdout) = await CliTests.RunAsync("status", "--json", "-c", config);
            Assert.Equal(0, exit);
            JsonElement sink = JsonDocument.Parse(stdout).RootElement.GetProperty("sinks").EnumerateArray().Single();
            if ((sink.GetProperty("received").GetInt64() == received && sink.GetProperty("inFlight").GetInt64() == 0) || attempt == timeoutAttempts)
            {
                Assert.Equal(received, sink.GetProperty("received").GetInt64());
                return sink;
            }

            await Task.Delay(100); // polling a status the engine settles asynchronously; bounded
        }
    }
}
