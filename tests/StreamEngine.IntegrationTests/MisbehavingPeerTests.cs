using System.Text.Json;
using StreamEngine.Mllp;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// Peers that get MLLP wrong, as fixtures: whatever they answer, our client credits a message only with an ACK whose
/// MSA-2 names it, never loses one silently, and counts what it discards.
/// </summary>
public sealed class MisbehavingPeerTests
{
    private static async Task<(List<SendResult> Results, HashSet<string> Received, long Discarded)> SendThroughAsync(string program, string script, int window)
    {
        await using PeerProcess server = PeerProcess.Start("node", script);
        int port = (await server.NextAsync()).GetProperty("port").GetInt32();
        var options = new MllpSenderOptions
        {
            Host = "127.0.0.1",
            Port = port,
            Window = window,
            MaxRetries = 3,
            AckTimeout = TimeSpan.FromMilliseconds(1500),
            MinBackoff = TimeSpan.FromMilliseconds(20),
            MaxBackoff = TimeSpan.FromMilliseconds(200),
        };
        long discarded;
        List<SendResult> results;
        await using (var sender = new MllpSender(options))
        {
            results = [.. await Task.WhenAll(Enumerable.Range(1, 12).Select(i => sender.SendAsync(Peers.Adt("A01", $"{program}-{window}-{i}", "M1"), CancellationToken.None)))];
            discarded = sender.DiscardedAcks;
        }

        // The peer logs each message before it answers, but its output reaches us asynchronously: read until every
        // message credited as delivered shows up, or the peer has said all it will say within the bound.
        var received = new HashSet<string>();
        var credited = results.Where(r => r.Disposition == AckDisposition.Success).Select(r => r.ControlId).ToHashSet();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            while (!credited.IsSubsetOf(received))
            {
                JsonElement line = await server.Lines.Reader.ReadAsync(bound.Token);
                if (line.TryGetProperty("received", out JsonElement id) && id.GetString() is { } s)
                {
                    received.Add(s);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The assertion below names what is missing.
        }

        return (results, received, discarded);
    }

    private static void AssertNothingMiscredited(List<SendResult> results, HashSet<string> received)
    {
        Assert.Equal(12, results.Count); // every message has an outcome: none vanished
        Assert.All(results.Where(r => r.Disposition == AckDisposition.Success), r =>
        {
            Assert.Contains(r.ControlId, received);      // the peer did receive it
            Assert.Equal(r.ControlId, r.AckControlId);   // and it was settled by an ACK naming it, no other
        });
    }

    [SkippableTheory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task SimpleHl7_WhichDropsPipelinedFrames_NeverGetsAMessageCreditedItDidNotAcknowledge(int window)
    {
        PeerProcess.RequireNodePeers();
        (List<SendResult> results, HashSet<string> received, _) = await SendThroughAsync("simple", "simple-hl7-server.cjs", window);
        AssertNothingMiscredited(results, received);
        if (window == 1)
        {
            Assert.All(results, r => Assert.Equal(AckDisposition.Success, r.Disposition)); // stop-and-wait is what it can do
        }
    }

    [SkippableTheory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task NodeHl7Server_OnAKeptOpenConnection_NeverGetsAMessageCreditedItDidNotAcknowledge(int window)
    {
        PeerProcess.RequireNodePeers();
        (List<SendResult> results, HashSet<string> received, _) = await SendThroughAsync("nodehl7", "node-hl7-server-peer.mjs", window);
        AssertNothingMiscredited(results, received);
    }
}
