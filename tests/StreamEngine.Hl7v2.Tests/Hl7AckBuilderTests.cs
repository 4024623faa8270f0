using System.Text;
using StreamEngine.TestKit;

namespace StreamEngine.Hl7v2.Tests;

public sealed class Hl7AckBuilderTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 8, 0, 0, TimeSpan.Zero);

    private static Hl7Message Parse(string msh)
    {
        Assert.True(Hl7Parser.TryParse(TestData.Message(msh, "PID|1||X"), out Hl7Message? m, out _));
        return m!;
    }

    private static Hl7Message ParseAck(byte[] ack)
    {
        Assert.True(Hl7Parser.TryParse(ack, out Hl7Message? m, out IReadOnlyList<Hl7Issue> issues), string.Join(",", issues));
        return m!;
    }

    [Theory]
    [InlineData("", "", AckOutcome.Accepted, "AA")]
    [InlineData("", "", AckOutcome.Error, "AE")]
    [InlineData("", "", AckOutcome.Rejected, "AR")]
    [InlineData("AL", "NE", AckOutcome.Accepted, "CA")]
    [InlineData("AL", "AL", AckOutcome.Rejected, "CR")]
    [InlineData("", "AL", AckOutcome.Accepted, "CA")]
    [InlineData("SU", "", AckOutcome.Accepted, "CA")]
    [InlineData("SU", "", AckOutcome.Error, null)]
    [InlineData("ER", "", AckOutcome.Accepted, null)]
    [InlineData("ER", "", AckOutcome.Error, "CE")]
    [InlineData("NE", "AL", AckOutcome.Accepted, null)]
    public void Code_FollowsTheAckTable(string msh15, string msh16, AckOutcome outcome, string? expected)
    {
        Hl7Message message = Parse($@"MSH|^~\&|A|B|C|D|20240101||ADT^A01|X1|P|2.5|||{msh15}|{msh16}");
        Assert.Equal(expected, Hl7AckBuilder.Code(message, outcome));
    }

    [Fact]
    public void Build_Accept_SwapsSenderAndReceiver_EchoesVersionAndControlId()
    {
        Hl7Message message = Parse(@"MSH|^~\&|PAS|RX1|ROUTE|RX2|20240101||ADT^A01^ADT_A01|MSG7|P|2.5.1");
        var builder = new Hl7AckBuilder(Now);
        Hl7Message ack = ParseAck(builder.Build(message, "AA", null, null, Now));
        Assert.Equal("ROUTE", ack.Get("MSH-3"));
        Assert.Equal("RX2", ack.Get("MSH-4"));
        Assert.Equal("PAS", ack.Get("MSH-5"));
        Assert.Equal("RX1", ack.Get("MSH-6"));
        Assert.Equal("ACK^A01^ACK", ack.MessageType);
        Assert.Equal("2.5.1", ack.Version);
        Assert.Equal("AA", ack.Get("MSA-1"));
        Assert.Equal("MSG7", ack.Get("MSA-2"));
        Assert.Null(ack.FindSegment("ERR"));
    }

    [Fact]
    public void Build_ControlIds_AreUnique()
    {
        Hl7Message message = Parse(@"MSH|^~\&|A|B|C|D|20240101||ADT^A01|X1|P|2.4");
        var builder = new Hl7AckBuilder(Now);
        var ids = Enumerable.Range(0, 100).Select(_ => ParseAck(builder.Build(message, "AA", null, null, Now)).ControlId).ToHashSet();
        Assert.Equal(100, ids.Count);
        Assert.NotEqual(ParseAck(new Hl7AckBuilder(Now.AddSeconds(1)).Build(message, "AA", null, null, Now)).ControlId,
            ParseAck(new Hl7AckBuilder(Now).Build(message, "AA", null, null, Now)).ControlId);
    }

    [Fact]
    public void Build_ErrorInV25_UsesErr2To4WithTable0357()
    {
        Hl7Message message = Parse(@"MSH|^~\&|A|B|C|D|20240101||ADT^A01|X1|P|2.5");
        Hl7Message ack = ParseAck(new Hl7AckBuilder(Now).Build(message, "AR", new AckError(Hl7ErrorCode.ApplicationInternalError), null, Now));
        Assert.Equal("AR", ack.Get("MSA-1"));
        Assert.Null(ack.Get("MSA-3"));
        Assert.Equal("207", ack.Get("ERR-3.1"));
        Assert.Equal("HL70357", ack.Get("ERR-3.3"));
        Assert.Equal("E", ack.Get("ERR-4"));
        Assert.Null(ack.Get("ERR-1"));
    }

    [Theory]
    [InlineData("2.3")]
    [InlineData("2.4")]
    public void Build_ErrorBeforeV25_UsesErr1(string version)
    {
        Hl7Message message = Parse($@"MSH|^~\&|A|B|C|D|20240101||ADT^A01|X1|P|{version}");
        Hl7Message ack = ParseAck(new Hl7AckBuilder(Now).Build(message, "AE", new AckError(Hl7ErrorCode.RequiredFieldMissing, "PID", 1, 3), null, Now));
        Assert.Equal("PID", ack.Get("ERR-1.1"));
        Assert.Equal("3", ack.Get("ERR-1.3"));
        Assert.Equal("101", ack.Get("ERR-1.4.1"));
        Assert.Equal("Required field missing", ack.Get("MSA-3"));
        Assert.Equal("ACK^A01", ack.MessageType);
    }

    [Fact]
    public void Build_Unreadable_GivesArWithTheLooseControlId()
    {
        byte[] frame = Encoding.ASCII.GetBytes("MSH|^^^^|A|B|C|D|20240101||ADT^A01|LOOSE9|P|2.5\rPID|1");
        Assert.False(Hl7Parser.TryParse(frame, out Hl7Message? parsed, out IReadOnlyList<Hl7Issue> issues));
        Assert.Null(parsed);
        string? id = Hl7AckBuilder.LooseControlId(frame);
        Assert.Equal("LOOSE9", id);
        Hl7Message ack = ParseAck(new Hl7AckBuilder(Now).Build(null, "AR", AckError.From(issues), id, Now));
        Assert.Equal("AR", ack.Get("MSA-1"));
        Assert.Equal("LOOSE9", ack.Get("MSA-2"));
        Assert.NotNull(ack.FindSegment("ERR"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("MSH")]
    [InlineData("MSH|a|b")]
    [InlineData("MSH\r|x|y|z|w|v|u|t|s|r|q")]
    public void LooseControlId_NoControlId_ReturnsNull(string frame) =>
        Assert.Null(Hl7AckBuilder.LooseControlId(Encoding.ASCII.GetBytes(frame)));
}
