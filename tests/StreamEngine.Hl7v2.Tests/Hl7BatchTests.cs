using System.Text;
using StreamEngine.TestKit;

namespace StreamEngine.Hl7v2.Tests;

public sealed class Hl7BatchTests
{
    private const string Msg1 = "MSH|^~\\&|A|B|C|D|2026||ADT^A01|M1|P|2.5\rPID|1||X\r";
    private const string Msg2 = "MSH|^~\\&|A|B|C|D|2026||ADT^A08|M2|P|2.5\rPID|1||Y\r";

    private static (Hl7Batch Batch, IReadOnlyList<Hl7Issue> Issues) Parse(string text)
    {
        Assert.True(Hl7Batch.TryParse(Encoding.ASCII.GetBytes(text), out Hl7Batch? batch, out IReadOnlyList<Hl7Issue> issues));
        return (batch!, issues);
    }

    [Fact]
    public void FileWithOneBatch_SplitsIntoItsMessages_WithCountsChecked()
    {
        (Hl7Batch batch, IReadOnlyList<Hl7Issue> issues) = Parse($"FHS|^~\\&|A|B\rBHS|^~\\&|A|B|C|D|2026||||B77\r{Msg1}{Msg2}BTS|2\rFTS|1\r");
        Assert.Empty(issues);
        Hl7BatchGroup group = Assert.Single(batch.Groups);
        Assert.Equal("B77", group.Header!.Value.Field(11).ToString());
        Assert.Equal([Msg1, Msg2], group.Messages.Select(m => Encoding.ASCII.GetString(m.Span)));
    }

    [Fact]
    public void WrongCounts_AreBadBatchIssues_AtTheTrailer()
    {
        (Hl7Batch batch, IReadOnlyList<Hl7Issue> issues) = Parse($"BHS|^~\\&|A\r{Msg1}{Msg2}BTS|3\rFTS|2\r");
        Assert.Equal(2, batch.Messages.Count());
        Assert.Equal([new Hl7Issue(Hl7IssueCode.BadBatch, 6, 1), new Hl7Issue(Hl7IssueCode.BadBatch, 7, 1)], issues);
    }

    [Fact]
    public void MissingTrailer_IsABadBatchIssue()
    {
        (_, IReadOnlyList<Hl7Issue> issues) = Parse($"BHS|^~\\&|A\r{Msg1}");
        Assert.Contains(issues, i => i.Code == Hl7IssueCode.BadBatch);
    }

    [Fact]
    public void TwoBatches_AreTwoGroups()
    {
        (Hl7Batch batch, IReadOnlyList<Hl7Issue> issues) = Parse($"FHS|^~\\&\rBHS|^~\\&\r{Msg1}BTS|1\rBHS|^~\\&\r{Msg2}BTS|1\rFTS|2\r");
        Assert.Empty(issues);
        Assert.Equal(2, batch.Groups.Count);
        Assert.All(batch.Groups, g => Assert.Single(g.Messages));
    }

    [Fact]
    public void EmptyCounts_AreAccepted() => Assert.Empty(Parse($"BHS|^~\\&\r{Msg1}BTS\r").Issues);

    [Fact]
    public void CorpusBatches_SplitWithoutThrowing()
    {
        foreach ((string file, string flags, _) in TestData.CorpusManifest().Where(r => r.Flags.Contains("batch", StringComparison.Ordinal)))
        {
            byte[] bytes = TestData.Bytes("corpus", file);
            if (Hl7Batch.TryParse(bytes, out Hl7Batch? batch, out _))
            {
                foreach (ReadOnlyMemory<byte> message in batch!.Messages)
                {
                    Hl7Parser.TryParse(message, out _, out _);
                }
            }
        }
    }

    [Fact]
    public void AckBatch_EchoesBhs11AsBhs12_AndCountsTheAcks()
    {
        (Hl7Batch batch, _) = Parse($"BHS|^~\\&|PAS|RX1|ENG|RX1|2026||||B77\r{Msg1}{Msg2}BTS|2\r");
        var builder = new Hl7AckBuilder(DateTimeOffset.UnixEpoch);
        var acks = batch.Messages.Select(m =>
        {
            Hl7Parser.TryParse(m, out Hl7Message? message, out _);
            return builder.Build(message, "AA", null, null, DateTimeOffset.UnixEpoch);
        }).ToList();
        byte[] ackBatch = builder.BuildBatch(batch.Groups[0].Header!.Value, batch.Envelope.Delimiters, acks, DateTimeOffset.UnixEpoch);

        Assert.True(Hl7Batch.TryParse(ackBatch, out Hl7Batch? parsed, out IReadOnlyList<Hl7Issue> issues));
        Assert.Empty(issues);
        Hl7Segment bhs = parsed!.Groups[0].Header!.Value;
        Assert.Equal("B77", bhs.Field(12).ToString());
        Assert.Equal("ENG", bhs.Field(3).ToString());
        Assert.Equal("PAS", bhs.Field(5).ToString());
        Assert.Equal(["M1", "M2"], parsed.Messages.Select(m =>
        {
            Hl7Parser.TryParse(m, out Hl7Message? ack, out _);
            return ack!.Get("MSA-2");
        }));
    }
}
