using System.Text.Json;
using StreamEngine.Hl7v2;

namespace StreamEngine.IntegrationTests;

/// <summary>The onward MLLP sink against a third-party receiver: Debian python3-hl7's MLLP server.</summary>
public sealed class MllpSinkTests
{
    [SkippableFact]
    public async Task MessagesAreForwardedInOrder_ThroughTheRewrites_ToAThirdPartyReceiver()
    {
        Peers.RequireMllpSend();
        await using PeerProcess receiver = PeerProcess.Start("/usr/bin/python3", "python-hl7-server.py");
        int port = (await receiver.NextAsync()).GetProperty("port").GetInt32();
        using var folder = new TestFolder();
        await File.WriteAllTextAsync(Path.Combine(folder.Path, "streamengine.json"), JsonSerializer.Serialize(new
        {
            dataDirectory = Path.Combine(folder.Path, "data"),
            listeners = new[] { new { name = "it", host = "127.0.0.1", port = 0 } },
            sinks = new object[]
            {
                new
                {
                    name = "onward", type = "mllp", host = "127.0.0.1", port = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    filter = new { messageTypes = new[] { "ADT" } },
                    rewrite = new[] { new { path = "MSH-5", value = "EPR" }, new { path = "MSH-6", value = "RX2" } },
                },
            },
        }));
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);

        var messages = new List<byte[]>();
        for (int i = 1; i <= 20; i++)
        {
            messages.Add(Peers.Adt(i % 2 == 0 ? "A08" : "A01", $"ON-{i:D2}", $"M{i % 3}"));
        }

        messages.Insert(10, System.Text.Encoding.ASCII.GetBytes("MSH|^~\\&|LAB|RX1|X|Y|20261201||ORU^R01|LAB-1|P|2.4\rPID|1||M1^^^R0B^MR\r"));
        List<Hl7Message> acks = await Peers.SendAsync(engine.Port, messages);
        Assert.All(acks, a => Assert.Equal("AA", a.Get("MSA-1")));

        // The receiver sees the ADT messages (not the ORU: filtered), once each, each patient's in order, rewritten.
        var seen = new List<string>();
        for (int i = 1; i <= 20; i++)
        {
            JsonElement received = await receiver.NextAsync();
            seen.Add(received.GetProperty("received").GetString()!);
            Assert.Equal("EPR", received.GetProperty("receivingApplication").GetString());
            Assert.Equal("RX2", received.GetProperty("receivingFacility").GetString());
        }

        Assert.Equal(Enumerable.Range(1, 20).Select(i => $"ON-{i:D2}"), seen.Order(StringComparer.Ordinal));
        for (int patient = 0; patient < 3; patient++)
        {
            var sent = Enumerable.Range(1, 20).Where(i => i % 3 == patient).Select(i => $"ON-{i:D2}").ToList();
            Assert.Equal(sent, seen.Where(sent.Contains));
        }

        Assert.Equal(0, await engine.StopAsync());
    }
}
