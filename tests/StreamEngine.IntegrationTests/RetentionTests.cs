using System.Text.Json;
using StreamEngine.Hl7v2;

namespace StreamEngine.IntegrationTests;

/// <summary>Retention: journal ranges every sink has passed and older than the replay window are deleted; the sequence carries on.</summary>
public sealed class RetentionTests
{
    [Fact]
    public async Task PassedAndOldMessages_AreDeletedFromTheJournal_AndTheStreamCarriesOnAfterARestart()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "ret", port = 0 }, retention: new { replayWindow = "1", interval = "0.5" }, admin: new { port = 0 });
        string config = Path.Combine(folder.Path, "streamengine.json");
        string db = Path.Combine(folder.Path, "data", "streamengine.db");
        await using (EngineProcess engine = await EngineProcess.StartAsync(folder.Path))
        {
            await SendAsync(engine.Port, Enumerable.Range(1, 10).Select(i => $"R{i}"));
            await folder.AwaitLinesAsync(10);
            for (int attempt = 0; await LiveRowsAsync(db) > 1; attempt++)
            {
                Assert.True(attempt < 300, "retention did not delete the journal's passed messages");
                await Task.Delay(100); // retention runs on its own timer; bounded wait
            }

            Assert.Equal(0, await engine.StopAsync());
        }

        // Restarted with a long replay window, so that what is sent from now on stays, and a sink that was not there while
        // retention ran (new, backfilling the journal): what retention deleted is said to be so, not "rejected writes".
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new
        {
            dataDirectory = Path.Combine(folder.Path, "data"),
            admin = new { port = 0 },
            retention = new { replayWindow = "3600", interval = "0.5" },
            listeners = new[] { new { name = "ret", port = 0 } },
            sinks = new object[]
            {
                new { name = "fhir", type = "ndjson", path = folder.Out },
                new { name = "late", type = "ndjson", path = Path.Combine(folder.Path, "late"), startFrom = "earliest" },
            },
        }));
        await using EngineProcess again = await EngineProcess.StartAsync(folder.Path);
        Assert.True(await again.AwaitLogAsync("Sink late: sequence numbers 1 to 9 of stream ingest/ret/default were deleted by retention"), again.Logs);
        Assert.DoesNotContain("rejected writes", again.Logs, StringComparison.Ordinal);
        await SendAsync(again.Port, ["R11"]);
        List<JsonDocument> lines = await folder.AwaitLinesAsync(11);
        Assert.Equal("streamengine:ingest/ret/default#11", TestFolder.DeliveryId(lines[^1]));
        Assert.Equal(11, lines.Select(TestFolder.DeliveryId).Distinct().Count());

        // trace of a message retention deleted: settled, and no longer readable (it said "unknown").
        (int traced, string journey) = await CliTests.RunAsync("trace", "--control-id", "R1", "-c", config);
        Assert.Equal(0, traced);
        Assert.Contains("  sink fhir: delivered or filtered (retention has deleted it from the journal)", journey, StringComparison.Ordinal);

        // A replay from before what retention kept says so, and where it began: R10 (the journal never deletes its last
        // event, and the new window keeps it now) and R11 are left.
        foreach (string[] range in new[] { new[] { "--from-seq", "1" }, ["--since", "2000-01-01T00:00Z"] })
        {
            (int exit, string stdout) = await CliTests.RunAsync(["replay", "--sink", "fhir", .. range, "-c", config]);
            Assert.Equal(0, exit);
            Assert.True(stdout.Contains("2 messages, 2 delivered", StringComparison.Ordinal)
                && stdout.Contains("retention has deleted this stream's messages before sequence 10 (received ", StringComparison.Ordinal)
                && stdout.Contains("the replay began there", StringComparison.Ordinal), stdout);
        }

        (int fromKept, string kept) = await CliTests.RunAsync("replay", "--sink", "fhir", "--from-seq", "10", "--json", "-c", config);
        Assert.Equal(0, fromKept);
        JsonElement result = JsonDocument.Parse(kept).RootElement.GetProperty("results")[0];
        Assert.Equal(2, result.GetProperty("messages").GetInt64());
        Assert.True(!result.TryGetProperty("retainedFrom", out JsonElement retained) || retained.ValueKind == JsonValueKind.Null, kept);
    }

    private static async Task SendAsync(int port, IEnumerable<string> ids)
    {
        await using MllpClient client = await MllpClient.ConnectAsync("127.0.0.1", port, CancellationToken.None);
        foreach (string id in ids)
        {
            Assert.True(Hl7Parser.TryParse(await client.SendAsync(Peers.Adt("A01", id, "M" + id), TimeSpan.FromSeconds(30), CancellationToken.None), out Hl7Message? ack, out _));
            Assert.Equal("AA", ack!.Get("MSA-1"));
        }
    }

    // Journal rows of the ingest stream that are not deleted (the store keeps the highest, so one always remains).
    private static async Task<long> LiveRowsAsync(string db)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db};Mode=ReadOnly");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM journal WHERE persistence_id = 'ingest/ret/default' AND deleted = 0";
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
