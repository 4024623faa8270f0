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
        await using var sender = new MllpSender(Options(server, ackTimeout: TimeSpan.FromMilliseconds(300), maxRetries: 0));

        SendResult first = await sender.SendAsync(FakeMllpServer.Message("OLD"), CancellationToken.None);
        Assert.Equal((AckDisposition.Retry, "timeout"), (first.Disposition, first.Code));
        FakeMllpServer.Received old = await server.NextAsync();

        Task<SendResult> second = sender.SendAsync(FakeMllpServer.Message("NEW"), CancellationToken.None);
        FakeMllpServer.Received fresh = await server.NextAsync();
        await old.ReplyAsync(FakeMllpServer.Ack("AA", "OLD"));   // late: its message timed out
        await fresh.ReplyAsync(FakeMllpServer.Ack("AE", "NEW"));
        SendResult result = await second;
        Assert.Equal(("AE", AckDisposition.Reject), (result.Code, result.Disposition));
        Assert.Equal(1, sender.DiscardedAcks);
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
        Assert.Equal([AckDisposition.Success, AckDisposition.Reject, AckDisposition.Success, AckDisposition.Success], results.Select(r => r.Disposition));
        Assert.Equal(1, server.Connections);
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
}
