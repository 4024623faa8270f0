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
}
