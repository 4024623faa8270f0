using System.Text.Json;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// A replay cut short by kill -9 runs again after the restart. Into a file sink's replay file: what the first run wrote is
/// kept and not written again, so the file ends with every message once, each patient's in order. (A FHIR sink's replay:
/// FhirSinkTests.)
/// </summary>
public sealed class ReplayResumeTests
{
    [Fact]
    public async Task KilledMidReplay_TheReplayFileEndsWithEveryMessageOnce_InOrderPerPatient()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "rr", port = 0 }, admin: new { port = 0 });
        string config = Path.Combine(folder.Path, "streamengine.json");
        var messages = new List<byte[]>();
        for (int round = 1; round <= 4; round++)
        {
            for (int patient = 1; patient <= 25; patient++)
            {
                messages.Add(Peers.Adt(round == 1 ? "A01" : "A08", $"P{patient:D2}-{round}", $"M{patient:D2}", visit: $"V{patient:D2}"));
            }
        }

        await using (EngineProcess engine = await EngineProcess.StartAsync(folder.Path))
        {
            Assert.All(await Peers.SendAsync(engine.Port, messages), a => Assert.Equal("AA", a.Get("MSA-1")));
            await folder.AwaitLinesAsync(messages.Count);
            // Rate-capped so that the kill lands part-way.
            Task<(int ExitCode, string Stdout)> replay = CliTests.RunAsync("replay", "--sink", "fhir", "--from-seq", "1", "--rate", "40", "-c", config);
            while (ReplayLines(folder).Count < 20)
            {
                await Task.Delay(20); // a probe of the replay file
            }

            await engine.KillAsync();
            await replay;
        }

        int cutAt = ReplayLines(folder).Count;
        Assert.InRange(cutAt, 20, messages.Count - 1);
        await using EngineProcess restarted = await EngineProcess.StartAsync(folder.Path);
        Assert.True(await restarted.AwaitLogAsync("run again after a restart", TimeSpan.FromMinutes(2)), restarted.Logs);
        List<string> ids = ReplayLines(folder);
        Assert.Equal(messages.Count, ids.Count);
        Assert.Equal(messages.Count, ids.Distinct().Count());
        foreach (IGrouping<string, string> patient in ids.GroupBy(id => id[..3]))
        {
            Assert.Equal(patient.Order(StringComparer.Ordinal), patient);
        }

        Assert.Equal(0, await restarted.StopAsync());
    }

    // The control ids in the replay's own file (complete lines only).
    private static List<string> ReplayLines(TestFolder folder)
    {
        string replays = Path.Combine(folder.Out, "replays");
        if (!Directory.Exists(replays))
        {
            return [];
        }

        var ids = new List<string>();
        foreach (string file in Directory.GetFiles(replays, "*.ndjson", SearchOption.AllDirectories))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            string text = reader.ReadToEnd();
            foreach (string line in text[..(text.LastIndexOf('\n') + 1)].Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                using JsonDocument bundle = JsonDocument.Parse(line);
                ids.Add(TestFolder.ControlId(bundle));
            }
        }

        return ids;
    }
}
