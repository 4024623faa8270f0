using System.Text;
using StreamEngine.TestKit;

namespace StreamEngine.Hl7v2.Tests;

public sealed class Hl7ParserTests
{
    private static readonly byte[] Adt = TestData.Message(
        @"MSH|^~\&|PAS|RX1|ROUTE|RX1|20261130081500||ADT^A01^ADT_A01|CTRL1|P|2.4",
        "EVN|A01|20261201091500",
        @"PID|1||RX10001^^^R0B^MR~9990000034^^^NHS^NH||TAYLOR^CHRIS^J||19751212|M|||1 HIGH ST^FLAT 2&REAR^LEEDS^^LS1 1AA",
        "ZU1|1|x",
        "PV1|1|I|WARD9^^^R0B01");

    [Fact]
    public void TryParse_WellFormedMessage_IndexesSegmentsAndFields()
    {
        Assert.True(Hl7Parser.TryParse(Adt, out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues));
        Assert.Empty(issues);
        Assert.NotNull(message);
        Assert.Equal(5, message.SegmentCount);
        Assert.Equal(["MSH", "EVN", "PID", "ZU1", "PV1"], Enumerable.Range(0, 5).Select(i => message[i].Id));
        Assert.Equal("ADT^A01^ADT_A01", message.MessageType);
        Assert.Equal("ADT", message.MessageCode);
        Assert.Equal("A01", message.TriggerEvent);
        Assert.Equal("CTRL1", message.ControlId);
        Assert.Equal("2.4", message.Version);
    }

    [Fact]
    public void Field_OnMsh_NumbersTheFieldSeparatorAsField1()
    {
        Hl7Parser.TryParse(Adt, out Hl7Message? message, out _);
        Assert.Equal("|", message!.Msh.Field(1).ToString());
        Assert.Equal(@"^~\&", message.Msh.Field(2).ToString());
        Assert.Equal("PAS", message.Msh.Field(3).ToString());
        Assert.Equal("", message.Msh.Field(8).ToString());
        Assert.Equal(12, message.Msh.FieldCount);
    }

    [Theory]
    [InlineData("PID-3(2).1", "9990000034")]
    [InlineData("PID-3(2).4", "NHS")]
    [InlineData("PID-3.1", "RX10001")]
    [InlineData("PID-3(1).5", "MR")]
    [InlineData("PID-5.2", "CHRIS")]
    [InlineData("PID-5-1", "TAYLOR")]
    [InlineData("PID-11.2.2", "REAR")]
    [InlineData("PID-11.2", "FLAT 2&REAR")]
    [InlineData("PV1-3.1", "WARD9")]
    [InlineData("PV1(1)-3.4", "R0B01")]
    [InlineData("ZU1-2", "x")]
    [InlineData("MSH-9.2", "A01")]
    [InlineData("MSH-10", "CTRL1")]
    public void Get_TerserPath_ReadsTheValue(string path, string expected)
    {
        Hl7Parser.TryParse(Adt, out Hl7Message? message, out _);
        Assert.Equal(expected, message!.Get(path));
    }

    [Theory]
    [InlineData("PID-3(3).1")]
    [InlineData("PID-40")]
    [InlineData("OBX-5")]
    [InlineData("PV1(2)-3")]
    [InlineData("PID-5.9")]
    public void Get_AbsentValue_ReturnsNull(string path)
    {
        Hl7Parser.TryParse(Adt, out Hl7Message? message, out _);
        Assert.Null(message!.Get(path));
    }

    [Theory]
    [InlineData("PID")]
    [InlineData("PID-")]
    [InlineData("PID-0")]
    [InlineData("pid-3")]
    [InlineData("PID-3(0)")]
    [InlineData("PID-3.1.2.3")]
    [InlineData("PID-3(2")]
    public void HlPath_Malformed_IsRejected(string path)
    {
        Assert.False(Hl7Path.TryParse(path, out _));
        Assert.Throws<FormatException>(() => Hl7Path.Parse(path));
    }

    [Fact]
    public void Get_OccurrenceOfRepeatedSegment_ReadsThatSegment()
    {
        byte[] oru = TestData.Message(@"MSH|^~\&|LAB|X|||20240101||ORU^R01|1|P|2.5.1", "OBX|1|NM|A||1", "OBX|2|NM|B||2", "OBX|3|NM|C||3");
        Hl7Parser.TryParse(oru, out Hl7Message? message, out _);
        Assert.Equal("3", message!.Get("OBX(3)-5"));
        Assert.Equal("B", message.Get("OBX(2)-3"));
        Assert.Equal(3, message.Segments("OBX").Count());
    }

    [Theory]
    [InlineData("\r")]
    [InlineData("\n")]
    [InlineData("\r\n")]
    public void TryParse_AnySegmentTerminator_GivesTheSameSegments(string terminator)
    {
        string text = string.Join(terminator, @"MSH|^~\&|A|B|||20240101||ADT^A08|9|P|2.4", "EVN|A08", "PID|1||X^^^Y^MR") + terminator;
        Assert.True(Hl7Parser.TryParse(Encoding.ASCII.GetBytes(text), out Hl7Message? message, out _));
        Assert.Equal(3, message!.SegmentCount);
        Assert.Equal("X", message.Get("PID-3.1"));
    }

    [Fact]
    public void TryParse_ByteOrderMarkAndBlankLines_AreSkipped()
    {
        byte[] text = [0xEF, 0xBB, 0xBF, .. Encoding.ASCII.GetBytes("MSH|^~\\&|A|B|||20240101||ADT^A08|9|P|2.4\r\n\r\nPID|1||X\r\n")];
        Assert.True(Hl7Parser.TryParse(text, out Hl7Message? message, out _));
        Assert.Equal(2, message!.SegmentCount);
        Assert.Equal("PID", message[1].Id);
    }

    [Fact]
    public void TryParse_NonStandardEncodingCharacters_AreRead()
    {
        byte[] text = TestData.Message("MSH#$%*|#A#B###20240101##ADT$A01#77#P#2.5", "PID#1##X$$$Y$MR%Z$$$W$NH");
        Assert.True(Hl7Parser.TryParse(text, out Hl7Message? message, out _));
        Assert.Equal((byte)'#', message!.Delimiters.Field);
        Assert.Equal((byte)'|', message.Delimiters.Subcomponent);
        Assert.Equal("A01", message.TriggerEvent);
        Assert.Equal("Z", message.Get("PID-3(2).1"));
    }

    [Fact]
    public void TryParse_TruncationCharacterV27_IsRead()
    {
        byte[] text = TestData.Message(@"MSH|^~\&#|A|B|||20240101||ADT^A01|77|P|2.7", @"PID|1||X\P\Y");
        Assert.True(Hl7Parser.TryParse(text, out Hl7Message? message, out _));
        Assert.Equal((byte)'#', message!.Delimiters.Truncation);
        Assert.Equal("X#Y", message.Get("PID-3"));
    }

    [Theory]
    [InlineData("", Hl7IssueCode.Empty)]
    [InlineData("\r\n", Hl7IssueCode.Empty)]
    [InlineData("PID|1||X\r", Hl7IssueCode.BadMsh)]
    [InlineData("MSH\r", Hl7IssueCode.BadMsh)]
    [InlineData("MSH|^^\\&|A\r", Hl7IssueCode.BadDelimiters)]
    [InlineData("MSH|^~\\&|A|B|||20240101||\r", Hl7IssueCode.MissingMessageType)]
    public void TryParse_UnusableHeader_FailsWithCode(string text, Hl7IssueCode code)
    {
        Assert.False(Hl7Parser.TryParse(Encoding.ASCII.GetBytes(text), out _, out IReadOnlyList<Hl7Issue> issues));
        Assert.Contains(issues, i => i.Code == code && i.IsError);
    }

    [Fact]
    public void TryParse_MissingControlIdAndUnknownVersion_AreWarnings()
    {
        Assert.True(Hl7Parser.TryParse(TestData.Message(@"MSH|^~\&|A|B|||20240101||ADT^A01||P|9.9"), out _, out IReadOnlyList<Hl7Issue> issues));
        Assert.Contains(issues, i => i.Code == Hl7IssueCode.MissingControlId && i.Field == 10);
        Assert.Contains(issues, i => i.Code == Hl7IssueCode.UnknownVersion && i.Field == 12);
    }

    [Fact]
    public void TryParse_BadSegmentId_IsReportedWithItsPosition()
    {
        Assert.True(Hl7Parser.TryParse(TestData.Message(@"MSH|^~\&|A|B|||20240101||ADT^A01|1|P|2.5", "PID|1", "p1d|x"), out _, out IReadOnlyList<Hl7Issue> issues));
        Assert.Contains(new Hl7Issue(Hl7IssueCode.BadSegmentId, 3, 0), issues);
    }

    [Fact]
    public void TryParse_OverLongSegment_IsAnError()
    {
        var options = new Hl7ParseOptions { MaxSegmentLength = 64 };
        byte[] text = TestData.Message(@"MSH|^~\&|A|B|||20240101||ADT^A01|1|P|2.5", "OBX|1|ED|" + new string('A', 100));
        Assert.False(Hl7Parser.TryParse(text, out _, out IReadOnlyList<Hl7Issue> issues, options));
        Assert.Contains(new Hl7Issue(Hl7IssueCode.SegmentTooLong, 2, 0), issues);
    }

    [Fact]
    public void TryParse_ASegmentOfSeveralMegabytes_IsAcceptedByDefault()
    {
        byte[] text = TestData.Message(@"MSH|^~\&|A|B|||20240101||ORU^R01|1|P|2.5", "OBX|1|ED|PDF^Report||^AP^PDF^Base64^" + new string('A', 6 * 1024 * 1024));
        Assert.True(Hl7Parser.TryParse(text, out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues));
        Assert.DoesNotContain(issues, i => i.IsError);
        Assert.Equal(6 * 1024 * 1024, message!.Get("OBX-5.5")!.Length);
    }

    [Fact]
    public void Issues_NeverCarryMessageContent()
    {
        byte[] text = TestData.Message(@"MSH|^~\&|A|B|||20240101||ADT^A01||P|9.9", "pid|1||SECRETNAME");
        Hl7Parser.TryParse(text, out _, out IReadOnlyList<Hl7Issue> issues);
        Assert.NotEmpty(issues);
        Assert.All(issues, i => Assert.DoesNotContain("SECRET", i.ToString(), StringComparison.Ordinal));
    }

    [Fact]
    public void TryParse_EveryPrefixOfAValidMessage_NeverThrows()
    {
        byte[] full = TestData.Bytes("bench", "adt_a01.hl7");
        for (int length = 0; length <= full.Length; length++)
        {
            bool ok = Hl7Parser.TryParse(full.AsMemory(0, length), out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues);
            Assert.True(ok || issues.Count > 0, $"prefix {length}: a failure must carry a coded issue");
            if (message is not null)
            {
                for (int s = 0; s < message.SegmentCount; s++)
                {
                    _ = message[s].Field(3).Repetition(2).Component(1).Subcomponent(2).ToString();
                }
            }
        }
    }

    [Fact]
    public void TryParse_DoubledEscapeInMsh2_IsReadAsStandard_WithAWarning()
    {
        byte[] text = TestData.Message(@"MSH|^~\\&|A|B|||20240101||ADT^A01|1|P|2.5", "PID|1||X&Y");
        Assert.True(Hl7Parser.TryParse(text, out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues));
        Assert.Contains(new Hl7Issue(Hl7IssueCode.DuplicatedEncodingCharacter, 1, 2), issues);
        Assert.Equal((byte)'&', message!.Delimiters.Subcomponent);
        Assert.Equal("Y", message.Get("PID-3.1.2"));
        Assert.Equal("A01", message.TriggerEvent);
    }
}
