using System.Globalization;
using System.Text.Json;
using StreamEngine.Mllp;

namespace StreamEngine.IntegrationTests;

/// <summary>Third-party MLLP peers in both directions: @medplum/hl7 (node) and python3-hl7.</summary>
public sealed class InteropTests
{
    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static MllpSenderOptions To(int port) => new() { Host = "127.0.0.1", Port = port, MaxRetries = 0, AckTimeout = TimeSpan.FromSeconds(20) };

    [SkippableFact]
    public async Task MedplumHl7Client_Pipelined_IntoOurListener_GetsEachAckByMsa2()
    {
        PeerProcess.RequireNodePeers();
        using var folder = new TestFolder();
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);

        await using PeerProcess client = PeerProcess.Start("node", "medplum-client.mjs", "127.0.0.1", Port(engine.Port), "25", "MP");
        List<JsonElement> replies = await client.AllAsync();

        Assert.Equal(25, replies.Count);
        Assert.All(replies, r =>
        {
            Assert.False(r.TryGetProperty("error", out JsonElement error), error.ToString());
            Assert.Equal("AA", r.GetProperty("code").GetString());
            Assert.Equal(r.GetProperty("sent").GetString(), r.GetProperty("msa2").GetString());
        });
        Assert.Equal(25, (await folder.AwaitLinesAsync(25)).Select(TestFolder.ControlId).Distinct().Count());
    }

    [SkippableFact]
    public async Task OurClient_IntoMedplumHl7Server_IsAcknowledged()
    {
        PeerProcess.RequireNodePeers();
        await using PeerProcess server = PeerProcess.Start("node", "medplum-server.mjs");
        int port = (await server.NextAsync()).GetProperty("port").GetInt32();
        await using var sender = new MllpSender(To(port));
        for (int i = 1; i <= 10; i++)
        {
            SendResult result = await sender.SendAsync(Peers.Adt("A01", $"TO-MP{i}", "M1"), CancellationToken.None);
            Assert.Equal((AckDisposition.Success, $"TO-MP{i}"), (result.Disposition, result.ControlId));
            Assert.Equal($"TO-MP{i}", (await server.NextAsync()).GetProperty("received").GetString());
        }

        Assert.Equal(0, sender.DiscardedAcks);
    }

    [SkippableFact]
    public async Task OurClient_IntoPythonHl7Server_IsAcknowledged()
    {
        Peers.RequireMllpSend();
        await using PeerProcess server = PeerProcess.Start("/usr/bin/python3", "python-hl7-server.py");
        int port = (await server.NextAsync()).GetProperty("port").GetInt32();
        await using var sender = new MllpSender(To(port));
        for (int i = 1; i <= 10; i++)
        {
            SendResult result = await sender.SendAsync(Peers.Adt("A08", $"TO-PY{i}", "M2"), CancellationToken.None);
            Assert.Equal(AckDisposition.Success, result.Disposition);
            Assert.Equal("AA", result.Code);
            Assert.Equal($"TO-PY{i}", (await server.NextAsync()).GetProperty("received").GetString());
        }
    }
}
