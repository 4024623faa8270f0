using System.Text.Json;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// An operator's skip on the NDJSON sink, cut short by kill -9 while it writes the parked messages: the restarted engine
/// carries the release on by itself, and the file ends with every parked message once, in order, with nothing left in
/// quarantine and no command given again.
/// </summary>
public sealed class ReleaseCrashTests
{
    private const int Parked = 2500;

    [Fact]
    public async Task ASkipKilledWhileItWritesTheParkedMessages_CarriesOnAfterTheRestart()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "rel", port = 0 }, admin: new { port = 0 });
        string config = Path.Combine(folder.Path, "streamengine.json");
        string[] parked = [.. Enumerable.Range(1, Parked).Select(n => $"P{n:D5}")];
        long sizeBefore;
        bool cutShort;
        await using (EngineProcess engine = await EngineProcess.StartAsync(folder.Path))
        {
            Assert.True(await engine.AwaitLogAsync("Admin endpoint ready"));
            // ADT^A99 is not a supported event: quarantined (UnsupportedMessageType); the patient's later messages park
            // behind it while another patient flows on.
            byte[][] messages = [Peers.Adt("A01", "G1", "M2"), Peers.Adt("A99", "BAD", "M1"), .. parked.Select(id => Peers.Adt("A08", id, "M1")), Peers.Adt("A08", "G2", "M2")];
            Assert.All(await Peers.SendAsync(engine.Port, messages), ack => Assert.Equal("AA", ack.Get("MSA-1")));
            await AwaitAsync(async () => Quarantine(await CliTests.RunAsync("quarantine", "list", "--json", "-c", config)) is [{ } item]
                && item.GetProperty("parked").GetInt32() == Parked);
            await AwaitAsync(() => Task.FromResult(folder.Lines().Count == 2)); // G1 and G2
            sizeBefore = OutputSize(folder);

            // The skip writes ~2,500 lines in one go: kill the engine once the first of them reach the file.
            Task<(int ExitCode, string Stdout)> skip = CliTests.RunAsync("quarantine", "skip", "fhir/rel/2", "--reason", "sent in error", "-c", config);
            while (OutputSize(folder) < sizeBefore + (256 * 1024) && !skip.IsCompleted)
            {
                await Task.Delay(1); // a probe of the file
            }

            await engine.KillAsync();
            cutShort = folder.Lines().Count < Parked + 2;
            await skip; // answered, or not, with the engine gone
        }

        // The engine is gone: quarantine list reads what it recorded (the release under way), and writes nothing (not
        // even the checkpoint of the write-ahead log the kill left behind).
        List<string> files = folder.StoreFiles();
        JsonElement[] recorded = Quarantine(await CliTests.RunAsync("quarantine", "list", "--json", "-c", config))!;
        if (cutShort)
        {
            Assert.Equal(("fhir/rel/2", "skipped"), (recorded.Single().GetProperty("id").GetString(), recorded.Single().GetProperty("releasing").GetString()));
        }

        Assert.Equal(files, folder.StoreFiles());

        await using EngineProcess restarted = await EngineProcess.StartAsync(folder.Path);
        Assert.True(await restarted.AwaitLogAsync("Admin endpoint ready"));
        // Nobody skips again.
        await AwaitAsync(async () => Quarantine(await CliTests.RunAsync("quarantine", "list", "--json", "-c", config)) is []);
        await AwaitAsync(() => Task.FromResult(folder.Lines().Count >= Parked + 2));
        List<string> written = [.. TestFolder.InJournalOrder(folder.Lines()).Select(TestFolder.ControlId)];
        Assert.Equal(["G1", .. parked, "G2"], written); // each once
        List<string> inFileOrder = [.. folder.Lines().Select(TestFolder.ControlId).Where(id => id.StartsWith('P'))];
        Assert.Equal(parked, inFileOrder); // one patient's messages in the file in send order
        if (cutShort)
        {
            Assert.Contains("was cut short by a stop; it carries on", restarted.Logs, StringComparison.Ordinal);
        }

        (int exit, string status) = await CliTests.RunAsync("status", "--json", "-c", config);
        Assert.Equal(0, exit);
        JsonElement counts = JsonDocument.Parse(status).RootElement.GetProperty("sinks").EnumerateArray().Single().GetProperty("counts");
        Assert.Equal((Parked + 2L, 1L, 0L, 0L), (counts.GetProperty("delivered").GetInt64(), counts.GetProperty("filtered").GetInt64(),
            counts.GetProperty("quarantined").GetInt64(), counts.GetProperty("parked").GetInt64()));
        Assert.Equal(0, await restarted.StopAsync());
    }

    // Null while the engine does not answer yet.
    private static JsonElement[]? Quarantine((int ExitCode, string Stdout) list) =>
        list.ExitCode == 0 ? [.. JsonDocument.Parse(list.Stdout).RootElement.GetProperty("items").EnumerateArray()] : null;

    private static long OutputSize(TestFolder folder) =>
        Directory.Exists(folder.Out) ? Directory.GetFiles(folder.Out, "*.ndjson").Sum(f => new FileInfo(f).Length) : 0;

    private static async Task AwaitAsync(Func<Task<bool>> condition)
    {
        for (DateTime deadline = DateTime.UtcNow.AddSeconds(60); !await condition(); await Task.Delay(100))
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
        }
    }
}
