using System.Text;
using StreamEngine.TestKit;

namespace StreamEngine.Hl7v2.Tests;

public sealed class Hl7MessageEditorTests
{
    [Theory]
    [MemberData(nameof(CorpusTests.WellFormed), MemberType = typeof(CorpusTests))]
    public void UnmodifiedCorpusMessage_ReEncodesByteIdentical(string file)
    {
        byte[] bytes = TestData.Bytes("corpus", file);
        Hl7Parser.TryParse(bytes, out Hl7Message? message, out _);
        Assert.Equal(bytes, new Hl7MessageEditor(message!).ToBytes());
    }

    [Fact]
    public void Set_EditsOnlyTheTouchedSegment_AndEscapesTheValue()
    {
        byte[] original = Encoding.ASCII.GetBytes("MSH|^~\\&|PAS|RX1|R|X|2026||ADT^A01|1|P|2.4\r\nPID|1||M1^^^R0B^MR||DOE^J\r\nPV1|1|I\r\n");
        Hl7Parser.TryParse(original, out Hl7Message? message, out _);
        var editor = new Hl7MessageEditor(message!);
        editor.Set("MSH-5", "NEW|APP");
        editor.Set("PID-5.2", "JANE");
        editor.Set("PID-3(2).1", "9990000034");
        editor.Set("PID-3(2).4", "NHS");
        byte[] edited = editor.ToBytes();
        Assert.Equal("MSH|^~\\&|PAS|RX1|NEW\\F\\APP|X|2026||ADT^A01|1|P|2.4\r\nPID|1||M1^^^R0B^MR~9990000034^^^NHS||DOE^JANE\r\nPV1|1|I\r\n",
            Encoding.ASCII.GetString(edited));

        Hl7Parser.TryParse(edited, out Hl7Message? reparsed, out _);
        Assert.Equal("NEW|APP", reparsed!.Get("MSH-5"));
        Assert.Equal("NHS", reparsed.Get("PID-3(2).4"));
    }

    [Fact]
    public void Clear_EmptiesTheValue_AndDropsTrailingEmptyComponents()
    {
        Hl7Parser.TryParse(TestData.Message("MSH|^~\\&|A|B|C|D|2026||ADT^A01|1|P|2.4", "PID|1||M1^^^R0B^MR"), out Hl7Message? message, out _);
        var editor = new Hl7MessageEditor(message!);
        editor.Clear("PID-3.5");
        editor.Clear("PID-3.4");
        Assert.EndsWith("PID|1||M1\r", Encoding.ASCII.GetString(editor.ToBytes()), StringComparison.Ordinal);
    }

    [Fact]
    public void Create_BuildsAParseableMessage()
    {
        Hl7MessageEditor editor = Hl7MessageEditor.Create();
        editor.Set("MSH-3", "STREAMENGINE");
        editor.Set("MSH-9.1", "ADT");
        editor.Set("MSH-9.2", "A08");
        editor.Set("MSH-10", "NEW1");
        editor.Set("MSH-12", "2.5.1");
        editor.AppendSegment("PID");
        editor.Set("PID-5.1", "O'BRIEN & SONS");
        Assert.True(Hl7Parser.TryParse(editor.ToBytes(), out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues), string.Join(",", issues));
        Assert.Equal("ADT^A08", message!.MessageType);
        Assert.Equal("O'BRIEN & SONS", message.Get("PID-5.1"));
    }

    [Fact]
    public void SetOnAMissingSegment_OrOnTheDelimiters_Throws()
    {
        Hl7Parser.TryParse(TestData.Message("MSH|^~\\&|A|B|C|D|2026||ADT^A01|1|P|2.4"), out Hl7Message? message, out _);
        var editor = new Hl7MessageEditor(message!);
        Assert.Throws<InvalidOperationException>(() => editor.Set("PV1-2", "I"));
        Assert.Throws<InvalidOperationException>(() => editor.Set("MSH-2", "x"));
        Assert.True(editor.RemoveSegment("MSH"));
        Assert.Equal(0, editor.SegmentCount);
    }
}
