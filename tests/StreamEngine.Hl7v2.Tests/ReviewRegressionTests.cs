using System.Text;
using StreamEngine.Hl7v2.Types;
using StreamEngine.TestKit;

namespace StreamEngine.Hl7v2.Tests;

/// <summary>Inputs from an independent review that once misbehaved.</summary>
public sealed class ReviewRegressionTests
{
    [Theory]
    [InlineData("20261130081500+1459")]
    [InlineData("20261130081500+1500")]
    [InlineData("00010101000000+0100")]
    [InlineData("99991231235959-1400")]
    public void DateTime_OutOfRange_IsRejected_NotThrown(string text)
    {
        Assert.False(Hl7DateTime.TryParse(text, out _));
    }

    [Theory]
    [InlineData("20261130081500+1400")]
    [InlineData("20261130081500-1200")]
    public void DateTime_ExtremeButValidOffsets_GiveAnInstant(string text)
    {
        Assert.True(Hl7DateTime.TryParse(text, out Hl7DateTime? t));
        _ = t!.ToDateTimeOffset(_ => TimeSpan.Zero);
    }

    [Theory]
    [InlineData("al", "CA")]
    [InlineData("AL ", "CA")]
    [InlineData("YES", "CA")]
    public void UnknownOrOddlyWrittenMsh15_IsReadAsAl(string msh15, string expected)
    {
        Assert.True(Hl7Parser.TryParse(TestData.Message($@"MSH|^~\&|A|B|C|D|2026||ADT^A01|1|P|2.5|||{msh15}"), out Hl7Message? m, out IReadOnlyList<Hl7Issue> issues));
        Assert.Equal(expected, Hl7AckBuilder.Code(m, AckOutcome.Accepted));
        Assert.Equal(msh15 == "YES", issues.Any(i => i.Code == Hl7IssueCode.UnknownAcknowledgmentType && i.Field == 15));
    }

    [Theory]
    [InlineData("NE")]
    [InlineData("SU")]
    [InlineData("ER")]
    public void FailedCommit_IsAlwaysAnswered_WhateverMsh15Asked(string msh15)
    {
        Hl7Parser.TryParse(TestData.Message($@"MSH|^~\&|A|B|C|D|2026||ADT^A01|1|P|2.5|||{msh15}"), out Hl7Message? m, out _);
        Assert.Equal("CR", Hl7AckBuilder.Code(m, AckOutcome.Rejected));
    }

    [Theory]
    [InlineData(@"MSH|^~\|APP|FAC|||2026||ADT^A01|1|P|2.3", (byte)'\\', (byte)0)]
    [InlineData(@"MSH|^~|APP|FAC|||2026||ADT^A01|1|P|2.3", (byte)0, (byte)0)]
    [InlineData(@"MSH|^~\&|APP|FAC|||2026||ADT^A01|1|P|2.3", (byte)'\\', (byte)'&')]
    public void ShortMsh2_IsRead_WithMsh3Valued(string msh, byte escape, byte subcomponent)
    {
        Assert.True(Hl7Parser.TryParse(TestData.Message(msh, "PID|1||X"), out Hl7Message? m, out IReadOnlyList<Hl7Issue> issues), string.Join(",", issues));
        Assert.Equal((escape, subcomponent), (m!.Delimiters.Escape, m.Delimiters.Subcomponent));
        Assert.Equal("APP", m.Get("MSH-3"));
        Assert.Equal("A01", m.TriggerEvent);
    }

    [Fact]
    public void UnterminatedLastSegment_IsAWarning()
    {
        Assert.True(Hl7Parser.TryParse(Encoding.ASCII.GetBytes("MSH|^~\\&|A|B|||2026||ADT^A01|1|P|2.5\rPID|1||X"), out _, out IReadOnlyList<Hl7Issue> issues));
        Assert.Equal([new Hl7Issue(Hl7IssueCode.Unterminated, 2, 0)], issues);
    }

    [Fact]
    public void EveryPrefixNotEndingInATerminator_IsReported()
    {
        byte[] full = TestData.Bytes("bench", "oru_r01_20obx.hl7");
        for (int length = 1; length <= full.Length; length++)
        {
            bool ok = Hl7Parser.TryParse(full.AsMemory(0, length), out _, out IReadOnlyList<Hl7Issue> issues);
            if (full[length - 1] is not ((byte)'\r' or (byte)'\n'))
            {
                Assert.True(!ok || issues.Any(i => i.Code == Hl7IssueCode.Unterminated), $"prefix {length}");
            }
        }
    }

    [Fact]
    public void TwoMessagesInOneBuffer_IsAnError()
    {
        Assert.False(Hl7Parser.TryParse(TestData.Message(@"MSH|^~\&|A|B|||2026||ADT^A01|1|P|2.5", "PID|1", @"MSH|^~\&|A|B|||2026||ADT^A01|2|P|2.5"), out Hl7Message? m, out IReadOnlyList<Hl7Issue> issues));
        Assert.Contains(new Hl7Issue(Hl7IssueCode.MultipleMessages, 3, 0), issues);
        Assert.Equal("1", m!.ControlId); // still readable, for the NAK
    }

    [Fact]
    public void CrCrLf_IsOneTerminator_ForTheStreamReader()
    {
        List<ReadOnlyMemory<byte>> messages = Hl7StreamReader.ReadAll(Encoding.ASCII.GetBytes("MSH|1\r\r\nPID|1\r\r\nPV1|1\r\r\nMSH|2\r\r\n"));
        Assert.Equal(2, messages.Count);
    }

    [Fact]
    public void DefaultValues_AndEmptyMessages_NeverThrow()
    {
        Hl7Value none = default;
        Assert.True(none.Component(1).Subcomponent(2).Repetition(3).IsEmpty);
        Assert.Equal("", XPN.From(none).FamilyName);
        Assert.Null(Hl7Path.Parse("ZZZ-1.2").Evaluate(new Hl7Message()));

        var pooled = new Hl7Message();
        Hl7Parser.TryParse(TestData.Bytes("bench", "adt_a01.hl7"), pooled, out _);
        Assert.False(Hl7Parser.TryParse("garbage"u8.ToArray(), pooled, out _));
        Assert.Equal("", pooled.ControlId);
        Assert.Equal("", pooled.MessageType);
        Assert.Equal(0, pooled.SegmentCount);
    }

    [Fact]
    public void TypedValues_DoNotPrintTheirContent()
    {
        Hl7Parser.TryParse(TestData.Message(@"MSH|^~\&|A|B|||2026||ADT^A01|1|P|2.5", "PID|1||9990000034^^^NHS^NH||TAYLOR^CHRIS||19751212|||1 HIGH ST^^LEEDS^^LS1 1AA"), out Hl7Message? m, out _);
        Hl7Segment pid = m!.FindSegment("PID")!.Value;
        string printed = $"{CX.From(pid.Field(3))} {XPN.From(pid.Field(5))} {XAD.From(pid.Field(11))} {(Hl7DateTime.TryFrom(pid.Field(7), out Hl7DateTime? d) ? d : null)}";
        foreach (string phi in new[] { "9990000034", "TAYLOR", "CHRIS", "HIGH", "LS1", "1975" })
        {
            Assert.DoesNotContain(phi, printed, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void MalformedCorpusInputs_AllYieldIssues()
    {
        foreach ((string file, string flags, _) in TestData.CorpusManifest())
        {
            if (flags.Contains("fuzzer", StringComparison.Ordinal) || flags.Contains("malformed_hint", StringComparison.Ordinal) || flags.Contains("ctrl", StringComparison.Ordinal))
            {
                byte[] bytes = TestData.Bytes("corpus", file);
                bool ok = Hl7Parser.TryParse(bytes, out _, out IReadOnlyList<Hl7Issue> issues);
                Assert.True(!ok || issues.Count > 0, file);
            }
        }
    }
}
