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
