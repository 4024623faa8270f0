using System.Text;

namespace StreamEngine.Hl7v2;

/// <summary>Maps MSH-18 values to .NET encodings.</summary>
public static class Hl7Charsets
{
    /// <summary>Strict UTF-8: invalid bytes throw, so callers validate first with <see cref="System.Text.Unicode.Utf8.IsValid(ReadOnlySpan{byte})"/>.</summary>
    public static Encoding Utf8 { get; } = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    /// <summary>windows-1252 from the code-pages provider, without registering the provider process-wide.</summary>
    public static Encoding Windows1252 { get; } = CodePagesEncodingProvider.Instance.GetEncoding(1252) ?? Encoding.Latin1;

    /// <summary>
    /// The encoding named by an MSH-18 value (HL7 table 0211), or null when the name is not known.
    /// Empty means the HL7 default (ASCII), which we read as UTF-8, a superset that real feeds rely on.
    /// </summary>
    public static Encoding? FromMsh18(ReadOnlySpan<char> name)
    {
        name = name.Trim();
        if (name.IsEmpty || name.Equals("ASCII", StringComparison.OrdinalIgnoreCase)
            || name.Equals("UNICODE UTF-8", StringComparison.OrdinalIgnoreCase) || name.Equals("UTF-8", StringComparison.OrdinalIgnoreCase)
            || name.Equals("UNICODE", StringComparison.OrdinalIgnoreCase))
        {
            return Utf8;
        }

        if (name.Equals("8859/1", StringComparison.OrdinalIgnoreCase))
        {
            return Encoding.Latin1;
        }

        if (name.StartsWith("8859/", StringComparison.OrdinalIgnoreCase) && int.TryParse(name[5..], out int part) && part is >= 2 and <= 15)
        {
            return CodePagesEncodingProvider.Instance.GetEncoding(28590 + part);
        }

        return null;
    }
}
