using StreamEngine.TestKit;

namespace StreamEngine.Mllp.Tests;

public sealed class MllpSenderTests
{
    private static MllpSenderOptions Options(FakeMllpServer server, TimeSpan? ackTimeout = null, int maxRetries = 3, int window = 1) => new()
    {
        Host = "127.0.0.1",
        Port = server.Port,
        AckTimeout = ackTimeout ?? TimeSpan.FromSeconds(10),
        MaxRetries = maxRetries,
        Window = window,
        MinBackoff = TimeSpan.FromMilliseconds(10),
        MaxBackoff = TimeSpan.FromMilliseconds(50),
    };

    [Fact]
    public async Task Aa_IsSuccess()
    {
        await using var server = new FakeMllpServer();
        await using var sender = new MllpSender(Options(server));
        Task<SendResult> send = sender.SendAsync(FakeMllpServer.Message("C1"), CancellationToken.None);
        FakeMllpServer.Received r = await server.NextAsync();
        await r.ReplyAsync(FakeMllpServer.Ack("AA", "C1"));
        SendResult result = await send;
        Assert.Equal((AckDisposition.Success, "AA", 1), (result.Disposition, result.Code, result.Attempts));
    }

    [Fact]
    public async Task Ar_IsRetriedWithBackoff_ThenSucceeds()
    {
        await using var server = new FakeMllpServer();
        await using var sender = new MllpSender(Options(server));
        Task<SendResult> send = sender.SendAsync(FakeMllpServer.Message("C2"), CancellationToken.None);
        await (await server.NextAsync()).ReplyAsync(FakeMllpServer.Ack("AR", "C2"));
        await (await server.NextAsync()).ReplyAsync(FakeMllpServer.Ack("CA", "C2"));
        SendResult result = await send;
        Assert.Equal((AckDisposition.Success, "CA", 2), (result.Disposition, result.Code, result.Attempts));
    }

    [Fact]
    public async Task Ae_IsRejected_WithoutResend()
    {
        await using var server = new FakeMllpServer();
        await using var sender = new MllpSender(Options(server));
        Task<SendResult> send = sender.SendAsync(FakeMllpServer.Message("C3"), CancellationToken.None);
        await (await server.NextAsync()).ReplyAsync(FakeMllpServer.Ack("AE", "C3"));
        SendResult result = await send;
        Assert.Equal((AckDisposition.Reject, 1), (result.Disposition, result.Attempts));
        Assert.False(server.Inbox.Reader.TryRead(out _));
    }

    [Fact]
    public async Task Overrides_ChangeTheDisposition()
    {
        await using var server = new FakeMllpServer();
        await using var sender = new MllpSender(Options(server) with { DispositionOverrides = new Dictionary<string, AckDisposition> { ["AE"] = AckDisposition.Retry } });
        Assert.Equal(AckDisposition.Retry, sender.DispositionOf("AE"));
        Assert.Equal(AckDisposition.Retry, sender.DispositionOf("CR"));
        Assert.Equal(AckDisposition.Success, sender.DispositionOf("AA"));
    }

    [Fact]
    public async Task LateAck_IsDiscarded_AndNeverCreditedToTheNextMessage()
    {
        await using var server = new FakeMllpServer();
        // 2 s: long enough that NEW's ACK, sent at once, is never late on a busy machine (it was 300 ms, which a
        // loaded CI box could exceed between the server reading NEW and answering it).
        await using var sender = new MllpSender(Options(server, ackTimeout: TimeSpan.FromSeconds(2), maxRetries: 0));

        SendResult first = await sender.SendAsync(FakeMllpServer.Message("OLD"), CancellationToken.None);
        Assert.Equal((AckDisposition.Retry, "timeout"), (first.Disposition, first.Code));
        FakeMllpServer.Received old = await server.NextAsync();

        Task<SendResult> second = sender.SendAsync(FakeMllpServer.Message("NEW"), CancellationToken.None);
        FakeMllpServer.Received fresh = await server.NextAsync();
        try
        {
            await old.ReplyAsync(FakeMllpServer.Ack("AA", "OLD")); // late: its message timed out
        }
        catch (IOException)
        {
            // the sender already closed that connection
        }

        await fresh.ReplyAsync(FakeMllpServer.Ack("AE", "NEW"));
        SendResult result = await second;
        Assert.Equal(("AE", AckDisposition.Reject, "NEW"), (result.Code, result.Disposition, result.AckControlId));
        Assert.Equal(2, server.Connections); // the timed-out connection was dropped; the late ACK never reached the sender
    }

    [Fact]
    public async Task LateAckWithAnEmptyMsa2_IsNeverCreditedToTheNextMessage()
    {
        await using var server = new FakeMllpServer();
        await using var sender = new MllpSender(Options(server, ackTimeout: TimeSpan.FromMilliseconds(300), maxRetries: 0));
        Assert.Equal("timeout", (await sender.SendAsync(FakeMllpServer.Message("R1"), CancellationToken.None)).Code);
        FakeMllpServer.Received r1 = await server.NextAsync();
        Task<SendResult> second = sender.SendAsync(FakeMllpServer.Message("R2"), CancellationToken.None);
        FakeMllpServer.Received r2 = await server.NextAsync();
        try
        {
            await r1.ReplyAsync(FakeMllpServer.Ack("AA", "")); // late, on the old connection, naming nothing
        }
        catch (IOException)
        {
            // the sender already closed that connection
        }

        Assert.Equal("timeout", (await second).Code);
        Assert.NotSame(r1.Client, r2.Client);
    }

    [Fact]
    public async Task Er_SilenceIsSuccess_ButARejectionIsHonoured()
    {
        await using var server = new FakeMllpServer();
        // The ACK timeout bounds the connect too: 300 ms failed the connect on a loaded machine, and E1 never went.
        await using var sender = new MllpSender(Options(server, ackTimeout: TimeSpan.FromSeconds(2), maxRetries: 0));
        byte[] Er(string id) => System.Text.Encoding.ASCII.GetBytes($"MSH|^~\\&|R|F|S|F|2026||ADT^A01|{id}|P|2.5|||ER|NE\rPID|1||X\r");

        Task<SendResult> quiet = sender.SendAsync(Er("E1"), CancellationToken.None);
        await server.NextAsync();
        SendResult ok = await quiet;
        Assert.Equal((AckDisposition.Success, "none"), (ok.Disposition, ok.Code));

        Task<SendResult> refused = sender.SendAsync(Er("E2"), CancellationToken.None);
        await (await server.NextAsync()).ReplyAsync(FakeMllpServer.Ack("CR", "E2"));
        SendResult result = await refused;
        Assert.Equal((AckDisposition.Retry, "CR"), (result.Disposition, result.Code));
    }

    [Fact]
    public async Task Ne_IsSentWithoutWaiting()
    {
        await using var server = new FakeMllpServer();
        await using var sender = new MllpSender(Options(server));
        SendResult result = await sender.SendAsync(System.Text.Encoding.ASCII.GetBytes("MSH|^~\\&|R|F|S|F|2026||ADT^A01|N1|P|2.5|||NE|NE\rPID|1\r"), CancellationToken.None);
        Assert.Equal((AckDisposition.Success, "none"), (result.Disposition, result.Code));
        Assert.Equal("N1", (await server.NextAsync()).ControlId);
    }

    [Fact]
    public async Task PeerThatNeverCompletesTheTlsHandshake_FailsWithinTheAckTimeout()
    {
        await using var server = new FakeMllpServer(); // speaks no TLS: the handshake never completes
        await using var sender = new MllpSender(Options(server, ackTimeout: TimeSpan.FromMilliseconds(500), maxRetries: 0) with { TlsServerName = "localhost" });
        SendResult result = await sender.SendAsync(FakeMllpServer.Message("T1"), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal((AckDisposition.Retry, "connection", false), (result.Disposition, result.Code, result.Dropped));
    }

    [Fact]
    public async Task AReceiverThatClosesTheConnectionOnTheMessage_AtEveryTry_IsADrop()
    {
        await using var server = new FakeMllpServer();
        await using var sender = new MllpSender(Options(server, maxRetries: 2));
        Task<SendResult> send = sender.SendAsync(FakeMllpServer.Message("P1"), CancellationToken.None);
        for (int i = 0; i < 3; i++)
        {
            FakeMllpServer.Received received = await server.NextAsync();
            Assert.Equal("P1", received.ControlId);
            received.Client.Close(); // read it, then hang up without an answer
        }

        SendResult result = await send.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal((AckDisposition.Retry, "connection", 3, true), (result.Disposition, result.Code, result.Attempts, result.Dropped));

        // Dropped once, then answered: delivered, no drop.
        Task<SendResult> next = sender.SendAsync(FakeMllpServer.Message("P2"), CancellationToken.None);
        (await server.NextAsync()).Client.Close();
        FakeMllpServer.Received again = await server.NextAsync();
        await again.ReplyAsync(FakeMllpServer.Ack("AA", "P2"));
        Assert.Equal((AckDisposition.Success, false), ((await next.WaitAsync(TimeSpan.FromSeconds(20))).Disposition, (await next).Dropped));
    }

    [Fact]
    public async Task AHangUpOnAConnectionThatCarriedEarlierMessages_IsADropOnlyIfATryOnANewOneIsToo()
    {
        // A connection the receiver or a firewall closed while it sat idle fails the next frame written to it: that
        // alone is not the receiver refusing the message.
        await using var server = new FakeMllpServer();
        await using var once = new MllpSender(Options(server, maxRetries: 0));
        Task<SendResult> first = once.SendAsync(FakeMllpServer.Message("E1"), CancellationToken.None);
        await (await server.NextAsync()).ReplyAsync(FakeMllpServer.Ack("AA", "E1"));
        Assert.Equal(AckDisposition.Success, (await first.WaitAsync(TimeSpan.FromSeconds(20))).Disposition);
        Task<SendResult> reused = once.SendAsync(FakeMllpServer.Message("E2"), CancellationToken.None);
        (await server.NextAsync()).Client.Close();
        Assert.Equal((AckDisposition.Retry, "connection", false), ((await reused.WaitAsync(TimeSpan.FromSeconds(20))).Disposition, (await reused).Code, (await reused).Dropped));

        await using var twice = new MllpSender(Options(server, maxRetries: 1));
        Task<SendResult> warm = twice.SendAsync(FakeMllpServer.Message("E3"), CancellationToken.None);
        await (await server.NextAsync()).ReplyAsync(FakeMllpServer.Ack("AA", "E3"));
        await warm.WaitAsync(TimeSpan.FromSeconds(20));
        Task<SendResult> send = twice.SendAsync(FakeMllpServer.Message("E4"), CancellationToken.None);
        (await server.NextAsync()).Client.Close(); // on the connection E3 went on
        (await server.NextAsync()).Client.Close(); // on a new one
        Assert.True((await send.WaitAsync(TimeSpan.FromSeconds(20))).Dropped);
    }

    [Fact]
    public async Task AReceiverThatIsDown_OrSlow_IsNotADrop()
    {
        int closedPort;
        await using (var gone = new FakeMllpServer())
        {
            closedPort = gone.Port;
        }

        await using var down = new MllpSender(new MllpSenderOptions { Host = "127.0.0.1", Port = closedPort, MaxRetries = 1, MinBackoff = TimeSpan.FromMilliseconds(10) });
        SendResult refused = await down.SendAsync(FakeMllpServer.Message("D1"), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal((AckDisposition.Retry, "connection", false, false), (refused.Disposition, refused.Code, refused.Written, refused.Dropped));

        // Dropped at the first try, then no answer in time at the second: not every try was a drop.
        await using var server = new FakeMllpServer();
        await using var slow = new MllpSender(Options(server, ackTimeout: TimeSpan.FromMilliseconds(300), maxRetries: 1));
        Task<SendResult> send = slow.SendAsync(FakeMllpServer.Message("S1"), CancellationToken.None);
        (await server.NextAsync()).Client.Close();
        await server.NextAsync();
        SendResult timedOut = await send.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal((AckDisposition.Retry, "timeout", false), (timedOut.Disposition, timedOut.Code, timedOut.Dropped));
    }

    [Fact]
    public async Task Disposing_WhileASendWaits_EndsItWithoutAnException()
    {
        await using var server = new FakeMllpServer();
        var sender = new MllpSender(Options(server, ackTimeout: TimeSpan.FromSeconds(20), maxRetries: 0));
        Task<SendResult> send = sender.SendAsync(FakeMllpServer.Message("D1"), CancellationToken.None);
        await server.NextAsync();
        await sender.DisposeAsync();
        SendResult result = await send.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal((AckDisposition.Retry, "connection", false), (result.Disposition, result.Code, result.Dropped)); // closed by us, not a drop
    }

    [Fact]
    public async Task AckForAnotherMessage_IsDiscarded_AndTheMessageIsResent()
    {
        await using var server = new FakeMllpServer();
        await using var sender = new MllpSender(Options(server, ackTimeout: TimeSpan.FromMilliseconds(500)));
        Task<SendResult> send = sender.SendAsync(FakeMllpServer.Message("MINE"), CancellationToken.None);
        await (await server.NextAsync()).ReplyAsync(FakeMllpServer.Ack("AA", "SOMEONE-ELSE"));
        await (await server.NextAsync()).ReplyAsync(FakeMllpServer.Ack("AA", "MINE")); // the resend
        SendResult result = await send;
        Assert.Equal((AckDisposition.Success, 2), (result.Disposition, result.Attempts));
        Assert.Equal(1, sender.DiscardedAcks);
    }

    [Fact]
    public async Task DroppedConnection_IsReopened_AndTheMessageResent()
    {
        await using var server = new FakeMllpServer();
        await using var sender = new MllpSender(Options(server));
        Task<SendResult> send = sender.SendAsync(FakeMllpServer.Message("C7"), CancellationToken.None);
        FakeMllpServer.Received first = await server.NextAsync();
        first.Client.Close();
        FakeMllpServer.Received again = await server.NextAsync();
        await again.ReplyAsync(FakeMllpServer.Ack("AA", "C7"));
        SendResult result = await send;
        Assert.Equal((AckDisposition.Success, 2), (result.Disposition, result.Attempts));
        Assert.Equal(2, server.Connections);
    }

    [Fact]
    public async Task PipelinedWindow_MatchesAcksAnsweredOutOfOrder()
    {
        await using var server = new FakeMllpServer();
        await using var sender = new MllpSender(Options(server, window: 4));
        string[] ids = ["P1", "P2", "P3", "P4"];
        Task<SendResult>[] sends = ids.Select(id => sender.SendAsync(FakeMllpServer.Message(id), CancellationToken.None)).ToArray();
        var received = new List<FakeMllpServer.Received>();
        for (int i = 0; i < ids.Length; i++)
        {
            received.Add(await server.NextAsync());
        }

        foreach (FakeMllpServer.Received r in Enumerable.Reverse(received))
        {
            await r.ReplyAsync(FakeMllpServer.Ack(r.ControlId == "P2" ? "AE" : "AA", r.ControlId));
        }

        SendResult[] results = await Task.WhenAll(sends);
        Assert.Equal(ids, results.Select(r => r.ControlId));
        Assert.Equal(ids, results.Select(r => r.AckControlId)); // each settled by its own ACK
        Assert.Equal([AckDisposition.Success, AckDisposition.Reject, AckDisposition.Success, AckDisposition.Success], results.Select(r => r.Disposition));
        Assert.Equal(1, server.Connections);
    }

    [Fact]
    public async Task PipelinedWindow_WritesInTheOrderOfTheCalls_FromTheFirstConnectOn()
    {
        // One patient's messages sent with a window: the receiver must see them in the order they were given, the ones
        // waiting for the first connect included (their ACKs may come in any order).
        for (int round = 0; round < 20; round++)
        {
            await SendInOrderAsync();
        }
    }

    private static async Task SendInOrderAsync()
    {
        await using var server = new FakeMllpServer();
        await using var sender = new MllpSender(Options(server, window: 8));
        string[] ids = [.. Enumerable.Range(1, 64).Select(i => $"W{i:D3}")];
        var sends = new List<Task<SendResult>>();
        var received = new List<string>();
        foreach (string id in ids)
        {
            sends.Add(sender.SendAsync(FakeMllpServer.Message(id), CancellationToken.None));
        }

        while (received.Count < ids.Length)
        {
            FakeMllpServer.Received r = await server.NextAsync();
            received.Add(r.ControlId);
            await r.ReplyAsync(FakeMllpServer.Ack("AA", r.ControlId));
        }

        await Task.WhenAll(sends);
        Assert.Equal(ids, received);
    }

    [Fact]
    public async Task AReceiverThatIsGone_FailsTheWholeWindowOnOneConnectAttempt()
    {
        // Sends waiting while a connect fails fail with it: each of them trying (and backing off) on its own made a
        // windowed sender take a minute to give up on a receiver killed under it.
        var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        int port = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        await using var sender = new MllpSender(new MllpSenderOptions { Host = "127.0.0.1", Port = port, Window = 8, MaxRetries = 0 });
        SendResult[] results = await Task.WhenAll(Enumerable.Range(1, 8).Select(i => sender.SendAsync(FakeMllpServer.Message($"G{i}"), CancellationToken.None)));
        Assert.All(results, r => Assert.Equal("connection", r.Code));
        // One attempt fails the sends waiting behind it; a refusal on loopback can come back before the later sends are
        // even queued, and the first of those tries once more. Before, each of the eight tried (and backed off) in turn.
        Assert.InRange(sender.FailedConnectsInARow, 1, 2);
    }

    [Fact]
    public async Task RetriesRunOut_GivesRetryWithTheLastCode()
    {
        await using var server = new FakeMllpServer();
        await using var sender = new MllpSender(Options(server, maxRetries: 1));
        Task<SendResult> send = sender.SendAsync(FakeMllpServer.Message("C9"), CancellationToken.None);
        await (await server.NextAsync()).ReplyAsync(FakeMllpServer.Ack("CR", "C9"));
        await (await server.NextAsync()).ReplyAsync(FakeMllpServer.Ack("AR", "C9"));
        SendResult result = await send;
        Assert.Equal((AckDisposition.Retry, "AR", 2), (result.Disposition, result.Code, result.Attempts));
    }

    [Fact]
    public async Task Er_Pipelined_SilenceNeitherDropsTheConnectionNorResends()
    {
        await using var server = new FakeMllpServer();
        // The silence each ER message waits out; long enough that a loaded machine still connects within it (the
        // connect shares the limit), short enough for a unit test.
        await using var sender = new MllpSender(Options(server, ackTimeout: TimeSpan.FromSeconds(2), window: 4));
        byte[] Er(string id) => System.Text.Encoding.ASCII.GetBytes($"MSH|^~\\&|R|F|S|F|2026||ADT^A01|{id}|P|2.5|||ER|NE\rPID|1||X\r");
        SendResult[] results = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => sender.SendAsync(Er($"ER{i}"), CancellationToken.None)));
        Assert.All(results, r => Assert.Equal((AckDisposition.Success, 1), (r.Disposition, r.Attempts)));
        for (int i = 0; i < 4; i++)
        {
            await server.NextAsync();
        }

        Assert.False(server.Inbox.Reader.TryRead(out _)); // each sent once
        Assert.Equal(1, server.Connections);
    }
}
