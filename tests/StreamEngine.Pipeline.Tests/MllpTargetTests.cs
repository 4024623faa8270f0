using StreamEngine.Pipeline.Delivery;
using StreamEngine.Pipeline.Ingest;
using StreamEngine.TestKit;

namespace StreamEngine.Pipeline.Tests;

public sealed class MllpTargetTests
{
    private static MessageReceived Received(string controlId, params string[] segments) =>
        new(TestData.Message([$@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A20|{controlId}|P|2.4", .. segments]), DateTimeOffset.UtcNow, "PAS", "RX1", "ADT^A20",
            controlId, "20260101", contentHash: 0);

    [Fact]
    public async Task ARewriteOfASegmentTheMessageLacks_SendsItAsItIs_AndRewritesTheRest()
    {
        // An ADT^A20 (bed status) has no PID: "PID-2 cleared" has nothing to clear. Set threw, and the sink restarted on
        // that message for ever; the receiver now gets it with the other rewrites. (Nothing is sent: Prepare only.)
        using var target = new MllpTarget(new MllpSinkOptions
        {
            Host = "127.0.0.1",
            Port = 9,
            Rewrites = [new Hl7Rewrite("PID-2", null), new Hl7Rewrite("MSH-5", "EPR")],
        });

        PreparedDelivery bed = await target.PrepareAsync(1, Received("B1", "NPU|W1^B2"), CancellationToken.None);
        PreparedDelivery patient = await target.PrepareAsync(2, Received("P1", "PID|1|OLD|M1^^^R0B^MR"), CancellationToken.None);

        Assert.Equal(DeliveryResult.Delivered, bed.Result);
        Assert.Equal("MSH|^~\\&|PAS|RX1|EPR|RX1|20260101||ADT^A20|B1|P|2.4\rNPU|W1^B2\r", System.Text.Encoding.ASCII.GetString(bed.Payload.Span));
        Assert.Contains("\rPID|1||M1^^^R0B^MR\r", System.Text.Encoding.ASCII.GetString(patient.Payload.Span), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AReceiverThatHangsUpOnEveryMessage_CostsOneQuarantinedAsDropped_ThenIsTakenAsDown()
    {
        // Dropped is for one message a receiver cannot take; a receiver that hangs up on every connection (at its
        // connection limit, say) must not have each next message quarantined in turn, nor one more at each restart.
        await using var receiver = new FakeMllpServer();
        bool answering = false;
        _ = Task.Run(async () =>
        {
            await foreach (FakeMllpServer.Received message in receiver.Inbox.Reader.ReadAllAsync())
            {
                if (Volatile.Read(ref answering))
                {
                    await message.ReplyAsync(FakeMllpServer.Ack("AA", message.ControlId));
                }
                else
                {
                    message.Client.Close();
                }
            }
        });
        var options = new MllpSinkOptions
        {
            Host = "127.0.0.1", Port = receiver.Port, MaxAttempts = 2, QuarantineOn = new HashSet<string>(MllpSinkOptions.AlwaysQuarantined) { MllpSinkOptions.Dropped },
        };

        using (var target = new MllpTarget(options))
        {
            Assert.Equal(DeliveryResult.Quarantine("Dropped"), target.Commit(await target.PrepareAsync(1, Received("D1", "PID|1||M1^^^R0B^MR"), CancellationToken.None)));
            PreparedDelivery second = await target.PrepareAsync(2, Received("D2", "PID|1||M2^^^R0B^MR"), CancellationToken.None);
            Assert.Contains("taken as down", Assert.Throws<IOException>(() => target.Commit(second)).Message, StringComparison.Ordinal);
        }

        // The sink restarted: a new target, the same receiver, still hanging up: still down.
        using (var restarted = new MllpTarget(options))
        {
            PreparedDelivery again = await restarted.PrepareAsync(2, Received("D2", "PID|1||M2^^^R0B^MR"), CancellationToken.None);
            Assert.Throws<IOException>(() => restarted.Commit(again));

            // It answers again: delivered, and the next message it hangs up on at every try is quarantined.
            Volatile.Write(ref answering, true);
            Assert.Equal(DeliveryResult.Delivered, restarted.Commit(again));
            Volatile.Write(ref answering, false);
            Assert.Equal(DeliveryResult.Quarantine("Dropped"), restarted.Commit(await restarted.PrepareAsync(3, Received("D3", "PID|1||M3^^^R0B^MR"), CancellationToken.None)));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SegmentsEndedByLfOrCrLf_GoOnWithCr(bool rewrites)
    {
        // Ingest takes LF and CRLF as segment ends; a strict receiver splits on CR only and saw one long segment.
        using var target = new MllpTarget(new MllpSinkOptions { Host = "127.0.0.1", Port = 9, Rewrites = rewrites ? [new Hl7Rewrite("MSH-5", "EPR")] : [] });
        byte[] raw = System.Text.Encoding.ASCII.GetBytes("MSH|^~\\&|PAS|RX1|R|RX1|20260101||ADT^A08|L1|P|2.4\nEVN|A08\r\nPID|1||M1^^^R0B^MR\n");
        var received = new MessageReceived(raw, DateTimeOffset.UtcNow, "PAS", "RX1", "ADT^A08", "L1", "20260101", contentHash: 0);

        PreparedDelivery prepared = await target.PrepareAsync(1, received, CancellationToken.None);

        Assert.Equal($"MSH|^~\\&|PAS|RX1|{(rewrites ? "EPR" : "R")}|RX1|20260101||ADT^A08|L1|P|2.4\rEVN|A08\rPID|1||M1^^^R0B^MR\r",
            System.Text.Encoding.ASCII.GetString(prepared.Payload.Span));
    }
}
