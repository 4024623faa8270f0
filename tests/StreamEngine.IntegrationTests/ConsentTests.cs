using System.Text;
using System.Text.Json;
using StreamEngine.Hl7v2;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// Two sinks on one engine: a direct-care sink with the full record, and a secondary-use sink with the shipped
/// minimisation policy and the national data opt-out list. What each gets is read from its own output file.
/// </summary>
public sealed class ConsentTests
{
    private static async Task<string[]> AwaitLinesAsync(string file, int count)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        string[] lines = [];
        while (!deadline.IsCancellationRequested)
        {
            lines = File.Exists(file) ? (await File.ReadAllLinesAsync(file)).Where(l => l.Length > 0).ToArray() : [];
            if (lines.Length >= count)
            {
                break;
            }

            await Task.Delay(50, CancellationToken.None);
        }

        return lines;
    }

    [Fact]
    public async Task OptedOutPatient_NeverReachesTheSecondaryUseSink_StillReachesDirectCare_AndResearchSeesOnlyThePolicy()
    {
        using var folder = new TestFolder();
        string policies = Path.Combine(folder.Path, "policies");
        Directory.CreateDirectory(policies);
        string shipped = Path.GetFullPath(Path.Combine(PeerProcess.PeersFolder, "..", "..", "config", "policies", "secondary-use.json"));
        File.Copy(shipped, Path.Combine(policies, "secondary-use.json"));
        await File.WriteAllBytesAsync(Path.Combine(policies, "secondary-use.hmac"), Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
        string optOut = Path.Combine(folder.Path, "opt-out.txt");
        await File.WriteAllTextAsync(optOut, "# national data opt-out\n943 476 5919\n");
        await File.WriteAllTextAsync(Path.Combine(folder.Path, "streamengine.json"), JsonSerializer.Serialize(new
        {
            dataDirectory = Path.Combine(folder.Path, "data"),
            listeners = new[] { new { name = "it", host = "127.0.0.1", port = 0 } },
            sinks = new object[]
            {
                new { name = "care", type = "ndjson", path = Path.Combine(folder.Path, "out") },
                new { name = "research", type = "ndjson", path = Path.Combine(folder.Path, "out"), purpose = "secondary-use", policy = Path.Combine(policies, "secondary-use.json") },
            },
            consent = new { optOutFile = optOut },
            admin = new { port = 0 },
        }));
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        Assert.Contains("Sink research applies minimisation policy secondary-use version 1", engine.Logs, StringComparison.Ordinal);
        Assert.Contains("Sink care has no minimisation policy", engine.Logs, StringComparison.Ordinal);

        List<Hl7Message> acks = await Peers.SendAsync(engine.Port,
        [
            Peers.Adt("A01", "OPTED-1", "M1", nhsNumber: "9434765919"),
            Peers.Adt("A01", "SHARED-1", "M2", nhsNumber: "9990000026", visit: "V2"),
            Peers.Adt("A08", "OPTED-2", "M1", nhsNumber: "9434765919"),
            Peers.Adt("A08", "SHARED-2", "M2", nhsNumber: "9990000026", visit: "V2"),
        ]);
        Assert.All(acks, a => Assert.Equal("AA", a.Get("MSA-1")));

        string[] care = await AwaitLinesAsync(Path.Combine(folder.Path, "out", "care.it.ndjson"), 4);
        Assert.Equal(4, care.Length);
        Assert.Equal(2, care.Count(line => line.Contains("9434765919", StringComparison.Ordinal)));

        // The research sink: only the patient not on the list, minimised and pseudonymised. Once both withheld messages
        // are audited and the other patient's two are written, every message has been decided.
        Assert.True(await engine.AwaitLogAsync("Sink research: sequence 3 of stream ingest/it/default withheld: NationalDataOptOut"), engine.Logs);
        string[] research = await AwaitLinesAsync(Path.Combine(folder.Path, "out", "research.it.ndjson"), 2);
        Assert.Equal(2, research.Length);
        // Lines are named by their journal position (meta.source); MSH-10 itself is pseudonymised for this sink.
        Assert.EndsWith("#2", JsonDocument.Parse(research[0]).RootElement.GetProperty("meta").GetProperty("source").GetString(), StringComparison.Ordinal);
        Assert.EndsWith("#4", JsonDocument.Parse(research[1]).RootElement.GetProperty("meta").GetProperty("source").GetString(), StringComparison.Ordinal);
        string line = research[0];
        Assert.DoesNotContain("SHARED", line, StringComparison.Ordinal);
        Assert.DoesNotContain("9990000026", line, StringComparison.Ordinal);
        Assert.DoesNotContain("9434765919", line, StringComparison.Ordinal);
        Assert.DoesNotContain("TESTER", line, StringComparison.Ordinal); // names are not in the policy
        Assert.Contains("research/Id/nhs-pseudonym", line, StringComparison.Ordinal);
        Assert.DoesNotContain("\"M2\"", line, StringComparison.Ordinal); // the MRN: a local pseudonym too
        Assert.Contains("\"birthDate\":\"1980\"", line, StringComparison.Ordinal);
        Assert.Contains(MinimisationTag, line, StringComparison.Ordinal);
        Assert.Contains("Sink research: sequence 1 of stream ingest/it/default withheld: NationalDataOptOut", engine.Logs, StringComparison.Ordinal);
        Assert.DoesNotContain("9434765919", engine.Logs, StringComparison.Ordinal); // audited by position, never by number

        // A bad edit of the list while the engine runs: refused and said in the log (by line, never its content), the
        // last good list stays in force, and the operator's commands, which never apply it, still work.
        await File.AppendAllTextAsync(optOut, "not-a-number\n");
        File.SetLastWriteTimeUtc(optOut, DateTime.UtcNow.AddSeconds(5));
        // The list is looked at again (at most once a second) when a secondary-use sink next decides a message.
        int sequence = 4;
        for (int i = 3; i < 100 && !engine.Logs.Contains("opt-out list changed but was refused", StringComparison.Ordinal); i++)
        {
            Assert.All(await Peers.SendAsync(engine.Port, [Peers.Adt("A08", $"OPTED-{i}", "M1", nhsNumber: "9434765919")]), a => Assert.Equal("AA", a.Get("MSA-1")));
            sequence++;
            await engine.AwaitLogAsync($"Sink research: sequence {sequence} of", TimeSpan.FromSeconds(2)); // a probe: decided
        }

        Assert.True(await engine.AwaitLogAsync("opt-out list changed but was refused (line 3 is not a valid NHS number)"), engine.Logs);
        Assert.True(await engine.AwaitLogAsync($"Sink research: sequence {sequence} of stream ingest/it/default withheld: NationalDataOptOut"), engine.Logs);
        (int exit, string _, string stderr) = await CliTests.RunWithErrorsAsync("status", "-c", Path.Combine(folder.Path, "streamengine.json"));
        Assert.True(exit == 0, stderr);
        Assert.DoesNotContain("not-a-number", engine.Logs, StringComparison.Ordinal);
        Assert.Equal(0, await engine.StopAsync());

        // With the engine stopped, trace reads the list as it is now to tell the research sink's settled messages apart:
        // one it cannot read leaves them unclaimed (it said "delivered" for a withheld patient), a good one says withheld.
        string config = Path.Combine(folder.Path, "streamengine.json");
        (exit, string traced, stderr) = await CliTests.RunWithErrorsAsync("trace", "--control-id", "OPTED-1", "-c", config);
        Assert.True(exit == 0, stderr);
        Assert.Contains("  sink research: delivered or filtered\n", traced.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("the national data opt-out list cannot be read now (consent.optOutFile: line 3 is not a valid NHS number", stderr, StringComparison.Ordinal);
        await File.WriteAllTextAsync(optOut, "943 476 5919\n");
        (exit, traced, stderr) = await CliTests.RunWithErrorsAsync("trace", "--control-id", "OPTED-1", "-c", config);
        Assert.True(exit == 0, stderr);
        Assert.Contains("  sink research: filtered: NationalDataOptOut\n", traced.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("  sink care: delivered\n", traced.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.DoesNotContain("opt-out list", stderr, StringComparison.Ordinal);
    }

    private const string MinimisationTag = "\"system\":\"https://streamengine.dev/fhir/CodeSystem/minimisation-policy\",\"version\":\"1\",\"code\":\"secondary-use\"";
}
