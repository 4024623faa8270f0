using System.Text;
using StreamEngine.TestKit;

namespace StreamEngine.Hl7v2.Tests;

/// <summary>The vectorised tokeniser against a naive reference split, and the pooled index.</summary>
public sealed class TokeniserTests
{
    // Reference: split on CR/LF, drop empty lines, split each line on the field separator.
    private static List<string[]> Reference(byte[] bytes, char fieldSeparator)
    {
        string text = Encoding.Latin1.GetString(bytes);
        if (text.StartsWith("\u00EF\u00BB\u00BF", StringComparison.Ordinal))
        {
            text = text[3..];
        }

        return text.Split('\r', '\n').Where(l => l.Length > 0).Select(l => l.Split(fieldSeparator)).ToList();
    }

    private static void AssertMatchesReference(byte[] bytes)
    {
        Assert.True(Hl7Parser.TryParse(bytes, out Hl7Message? message, out _) || message is not null);
        List<string[]> expected = Reference(bytes, (char)message!.Delimiters.Field);
        Assert.Equal(expected.Count, message.SegmentCount);
        for (int s = 0; s < expected.Count; s++)
        {
            Hl7Segment segment = message[s];
            int offset = segment.IsHeader ? 1 : 0; // MSH-n is piece n-1
            Assert.Equal(expected[s].Length - 1 + offset, segment.FieldCount);
            Assert.Equal(expected[s][0], Encoding.Latin1.GetString(segment.IdSpan));
            for (int p = 1; p < expected[s].Length; p++)
            {
                Assert.Equal(expected[s][p], Encoding.Latin1.GetString(segment.Field(p + offset).Span));
            }
        }
    }

    public static TheoryData<string> WellFormed() => CorpusTests.WellFormed();

    [Theory]
    [MemberData(nameof(WellFormed))]
    public void CorpusMessage_TokenisesLikeANaiveSplit(string file) => AssertMatchesReference(TestData.Bytes("corpus", file));

    [Fact]
    public void RandomMessages_AcrossVectorBlockBoundaries_TokeniseLikeANaiveSplit()
    {
        var random = new Random(1234);
        for (int round = 0; round < 500; round++)
        {
            var sb = new StringBuilder("MSH|^~\\&|A|B|||2026||ADT^A01|1|P|2.5");
            int segments = random.Next(1, 12);
            for (int s = 0; s < segments; s++)
            {
                sb.Append(random.Next(4) switch { 0 => "\r", 1 => "\n", 2 => "\r\n", _ => "\r\n\r\n" });
                sb.Append("Z").Append((char)('A' + random.Next(26))).Append(random.Next(10));
                int fields = random.Next(0, 40);
                for (int f = 0; f < fields; f++)
                {
                    sb.Append('|').Append(new string('x', random.Next(0, 70)));
                }
            }

            if (random.Next(2) == 0)
            {
                sb.Append('\r');
            }

            AssertMatchesReference(Encoding.ASCII.GetBytes(sb.ToString()));
        }
    }

    [Fact]
    public void ReusedMessage_IsReindexedForEachInput()
    {
        var message = new Hl7Message();
        Assert.True(Hl7Parser.TryParse(TestData.Bytes("bench", "oru_r01_20obx.hl7"), message, out _));
        Assert.Equal(25, message.SegmentCount);
        Assert.True(Hl7Parser.TryParse(TestData.Message(@"MSH|^~\&|A|B|||2026||ADT^A08|Z9|P|2.4", "PID|1||M1"), message, out _));
        Assert.Equal(2, message.SegmentCount);
        Assert.Equal("Z9", message.ControlId);
        Assert.Equal("M1", message.Get("PID-3"));
        Assert.Null(message.Get("OBX-5"));
    }

    [Fact]
    public void PooledParse_OfACleanMessage_AllocatesNothing()
    {
        byte[] adt = TestData.Bytes("bench", "adt_a01.hl7");
        var message = new Hl7Message();
        Hl7Parser.TryParse(adt, message, out _); // grow the arrays once
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            Hl7Parser.TryParse(adt, message, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void EndsWithTerminator_TellsWhetherTheLastSegmentWasTerminated()
    {
        Hl7Parser.TryParse(TestData.Message(@"MSH|^~\&|A|B|||2026||ADT^A08|Z9|P|2.4"), out Hl7Message? terminated, out _);
        Hl7Parser.TryParse(Encoding.ASCII.GetBytes(@"MSH|^~\&|A|B|||2026||ADT^A08|Z9|P|2.4"), out Hl7Message? open, out _);
        Assert.True(terminated!.EndsWithTerminator);
        Assert.False(open!.EndsWithTerminator);
    }

    [Fact]
    public void InvalidEscape_IsReportedAtItsField()
    {
        Assert.True(Hl7Parser.TryParse(TestData.Message(@"MSH|^~\&|A|B|||2026||ADT^A08|Z9|P|2.4", @"PID|1||ok\F\fine||bad\Q\name"), out _, out IReadOnlyList<Hl7Issue> issues));
        Assert.Equal([new Hl7Issue(Hl7IssueCode.InvalidEscape, 2, 5)], issues);
    }
}
