using System.Text;

namespace StreamEngine.Hl7v2.Tests;

public sealed class Hl7EscapingTests
{
    private static string Decode(string raw) => Hl7Escaping.Decode(Encoding.ASCII.GetBytes(raw), Delimiters.Default, Encoding.UTF8);

    [Theory]
    [InlineData(@"A\F\B", "A|B")]
    [InlineData(@"A\S\B", "A^B")]
    [InlineData(@"A\T\B", "A&B")]
    [InlineData(@"A\R\B", "A~B")]
    [InlineData(@"A\E\B", @"A\B")]
    [InlineData(@"line1\.br\line2", "line1\nline2")]
    [InlineData(@"\H\bold\N\", "bold")]
    [InlineData(@"\X48656C6C6F\", "Hello")]
    [InlineData(@"\XC2A3\5", "£5")]
    [InlineData(@"no escapes", "no escapes")]
    public void Decode_KnownSequences_AreExpanded(string raw, string expected) => Assert.Equal(expected, Decode(raw));

    [Theory]
    [InlineData(@"A\Q\B")]
    [InlineData(@"unterminated\F")]
    [InlineData(@"\X4\")]
    public void Decode_UnknownOrUnterminated_IsKeptAsSent(string raw) => Assert.Equal(raw, Decode(raw));

    [Theory]
    [InlineData(@"A\Q\B", 1)]
    [InlineData(@"ok\F\then\", 9)]
    [InlineData(@"fine\S\", -1)]
    public void FindInvalid_ReportsTheOffset(string raw, int expected) =>
        Assert.Equal(expected, Hl7Escaping.FindInvalid(Encoding.ASCII.GetBytes(raw), Delimiters.Default));

    [Theory]
    [InlineData("A|B^C~D&E\\F")]
    [InlineData("two\nlines")]
    [InlineData("plain")]
    public void Encode_ThenDecode_RoundTrips(string text)
    {
        string encoded = Hl7Escaping.Encode(text, Delimiters.Default);
        Assert.DoesNotContain('|', encoded);
        Assert.Equal(text, Decode(encoded));
    }
}
