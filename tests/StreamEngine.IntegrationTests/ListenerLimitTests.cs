using System.Net.Sockets;
using System.Text.Json;
using StreamEngine.Hl7v2;
using StreamEngine.Mllp;
using StreamEngine.TestKit;

namespace StreamEngine.IntegrationTests;

/// <summary>Per-listener limits, against the engine process on loopback.</summary>
public sealed class ListenerLimitTests
{
    // True when the server closes the connection (a read returns 0 or fails) within the timeout.
    private static async Task<bool> ClosedByServerAsync(TcpClient client, TimeSpan timeout)
    {
        var buffer = new byte[256];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                int read = await client.GetStream().ReadAsync(buffer, cts.Token);
                if (read == 0)
                {
                    return true;
                }
            }
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static async Task<string?> AckCodeAsync(int port, string controlId)
    {
        List<Hl7Message> acks = await Peers.SendAsync(port, [Peers.Adt("A01", controlId, "M1")]);
        return acks[0].Get("MSA-1");
    }

    [Fact]
    public async Task MaxConnections_RefusesTheExtraConnection_AndKeepsServingTheOthers()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "it", port = 0, maxConnections = "1" });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);

        await using MllpClient first = await MllpClient.ConnectAsync("127.0.0.1", engine.Port, CancellationToken.None);
        Assert.NotNull(await first.SendAsync(Peers.Adt("A01", "L1", "M1"), TimeSpan.FromSeconds(30), CancellationToken.None));

        using var second = new TcpClient();
        await second.ConnectAsync("127.0.0.1", engine.Port);
        Assert.True(await ClosedByServerAsync(second, TimeSpan.FromSeconds(20)));

        Assert.True(Hl7Parser.TryParse(await first.SendAsync(Peers.Adt("A08", "L2", "M1"), TimeSpan.FromSeconds(30), CancellationToken.None), out Hl7Message? ack, out _));
        Assert.Equal("AA", ack!.Get("MSA-1"));
        Assert.True(await engine.AwaitLogAsync("refused (MaxConnections)"), engine.Logs);
    }

    [Fact]
    public async Task APeerThatResetsBeforeReadingItsAck_EndsItsConnectionQuietly_AndOthersCarryOn()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "it", port = 0 });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        for (int i = 0; i < 3; i++)
        {
            // A sender killed, or closing with SO_LINGER 0, right after its frame went: the ACK has nowhere to go.
            using var client = new TcpClient { LingerState = new LingerOption(true, 0) };
            await client.ConnectAsync("127.0.0.1", engine.Port);
            await client.GetStream().WriteAsync((byte[])[0x0B, .. Peers.Adt("A01", $"RST-{i}", $"M{i}"), 0x1C, 0x0D]);
            client.Close();
        }

        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (System.Text.RegularExpressions.Regex.Count(engine.Logs, "connection ended, reason") < 3 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(3, System.Text.RegularExpressions.Regex.Count(engine.Logs, "connection ended, reason"));
        Assert.Equal("AA", await AckCodeAsync(engine.Port, "AFTER-1"));
        Assert.DoesNotContain("[ERROR]", engine.Logs, StringComparison.Ordinal); // a peer gone is no error
    }

    [Fact]
    public async Task AllowedSenders_RefusesAnAddressOutsideTheList()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "it", port = 0, allowedSenders = new[] { "192.0.2.0/24" } });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", engine.Port);
        Assert.True(await ClosedByServerAsync(client, TimeSpan.FromSeconds(20)));
        Assert.True(await engine.AwaitLogAsync("refused (NotAllowed)"), engine.Logs);
    }

    [Fact]
    public async Task AllowedSenders_AcceptsAnAddressInTheList()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "it", port = 0, allowedSenders = new[] { "127.0.0.0/8" } });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        Assert.Equal("AA", await AckCodeAsync(engine.Port, "OK1"));
    }

    [Fact]
    public async Task FrameTimeout_CutsOffAStalledFrame_AndOtherConnectionsCarryOn()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "it", port = 0, frameTimeout = "1" });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);

        using var slow = new TcpClient();
        await slow.ConnectAsync("127.0.0.1", engine.Port);
        await slow.GetStream().WriteAsync(new byte[] { MllpDecoder.StartBlock, (byte)'M', (byte)'S', (byte)'H' });
        Assert.True(await ClosedByServerAsync(slow, TimeSpan.FromSeconds(20)));
        Assert.Equal("AA", await AckCodeAsync(engine.Port, "T1"));
        Assert.True(await engine.AwaitLogAsync("reason FrameTimeout"), engine.Logs);
    }

    [Fact]
    public async Task IdleTimeout_ClosesASilentConnection()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "it", port = 0, idleTimeout = "1" });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        using var idle = new TcpClient();
        await idle.ConnectAsync("127.0.0.1", engine.Port);
        Assert.True(await ClosedByServerAsync(idle, TimeSpan.FromSeconds(20)));
        Assert.True(await engine.AwaitLogAsync("reason IdleTimeout"), engine.Logs);
    }

    [Fact]
    public async Task AFrameAbandonedForANewStartBlock_IsDropped_AndTheNextMessageIsAcknowledgedWhole()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "it", port = 0 });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", engine.Port);
        byte[] truncated = [MllpDecoder.StartBlock, .. "MSH|^~\\&|PAS|RX1|ROU"u8.ToArray()];
        byte[] sent = [.. truncated, .. MllpFrame.Wrap(Peers.Adt("A08", "WHOLE1", "M1"))];
        await client.GetStream().WriteAsync(sent);

        Hl7Message ack = await MllpAnswers.ReadOneAsync(client.GetStream(), TimeSpan.FromSeconds(30));
        Assert.Equal(("AA", "WHOLE1"), (ack.Get("MSA-1"), ack.Get("MSA-2")));
        Assert.Equal(["WHOLE1"], (await folder.AwaitLinesAsync(1)).Select(TestFolder.ControlId)); // journaled and delivered alone
    }

    [Fact]
    public async Task OversizedFrame_ClosesThatConnectionOnly()
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "it", port = 0, maxFrameBytes = "2048" });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        using var big = new TcpClient();
        await big.ConnectAsync("127.0.0.1", engine.Port);
        await big.GetStream().WriteAsync(MllpFrame.Wrap(new byte[4096]));
        Assert.True(await ClosedByServerAsync(big, TimeSpan.FromSeconds(20)));
        Assert.Equal("AA", await AckCodeAsync(engine.Port, "B1"));
        Assert.True(await engine.AwaitLogAsync("reason FrameTooLarge"), engine.Logs);
    }

    [Fact]
    public async Task ASegmentOfSeveralMegabytes_IsAcknowledgedAndDelivered()
    {
        // An OBX-5 carrying a base64 document is one segment of megabytes: only the frame's cap (16 MiB) bounds it.
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "it", port = 0 });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        byte[] adt = Peers.Adt("A08", "BIGSEG1", "M1");
        byte[] message = [.. adt, .. System.Text.Encoding.ASCII.GetBytes("OBX|1|TX|NOTE^Note||" + new string('A', 6 * 1024 * 1024) + "||||||F\r")];

        List<Hl7Message> acks = await Peers.SendAsync(engine.Port, [message]);

        Assert.Equal("AA", acks[0].Get("MSA-1"));
        Assert.Equal("BIGSEG1", TestFolder.ControlId(Assert.Single(await folder.AwaitLinesAsync(1))));
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("::")]
    [InlineData("localhost")]
    public async Task ListenerOnAnyAddressOrAHostName_ServesLoopbackSenders(string host)
    {
        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "it", host, port = 0 });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        Assert.Equal("AA", await AckCodeAsync(engine.Port, "ANY1"));
    }
}
