using System.Text;
using StreamEngine.TestKit;

namespace StreamEngine.Hl7v2.Tests;

public sealed class Hl7CharsetTests
{
    [Fact]
    public void Utf8Declared_DecodesUtf8()
    {
        byte[] text = [.. Encoding.ASCII.GetBytes(@"MSH|^~\&|A|B|||20240101||ADT^A01|1|P|2.5||||||UNICODE UTF-8" + "\rPID|1||X||"), .. Encoding.UTF8.GetBytes("Zoë"), (byte)'\r'];
        Assert.True(Hl7Parser.TryParse(text, out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues));
        Assert.Empty(issues);
        Assert.Equal("Zoë", message!.Get("PID-5"));
    }

    [Fact]
    public void Latin1Declared_DecodesLatin1()
    {
        byte[] text = [.. Encoding.ASCII.GetBytes(@"MSH|^~\&|A|B|||20240101||ADT^A01|1|P|2.5||||||8859/1" + "\rPID|1||X||Zo"), 0xEB, (byte)'\r'];
        Assert.True(Hl7Parser.TryParse(text, out Hl7Message? message, out _));
        Assert.Equal("Zoë", message!.Get("PID-5"));
    }

    [Fact]
    public void MislabelledBytes_FallBackToWindows1252_WithAnIssue()
    {
        // 0xA3 is a pound sign in windows-1252 and invalid as UTF-8: a Windows PAS that claims ASCII.
        byte[] text = [.. Encoding.ASCII.GetBytes(@"MSH|^~\&|A|B|||20240101||ADT^A01|1|P|2.5" + "\rNTE|1||cost "), 0xA3, (byte)'5', (byte)'\r'];
        Assert.True(Hl7Parser.TryParse(text, out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues));
        Assert.Contains(new Hl7Issue(Hl7IssueCode.BadCharset, 1, 18), issues);
        Assert.Equal("cost £5", message!.Get("NTE-3"));
    }

    [Fact]
    public void UnknownCharsetName_IsAnIssue_AndUsesTheFallback()
    {
        Assert.True(Hl7Parser.TryParse(TestData.Message(@"MSH|^~\&|A|B|||20240101||ADT^A01|1|P|2.5||||||KLINGON"), out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues));
        Assert.Contains(issues, i => i.Code == Hl7IssueCode.BadCharset);
        Assert.Same(Hl7ParseOptions.Default.FallbackEncoding, message!.Encoding);
    }
}
