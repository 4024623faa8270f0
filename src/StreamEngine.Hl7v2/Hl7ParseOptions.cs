using System.Text;

namespace StreamEngine.Hl7v2;

/// <summary>Limits and fallbacks for parsing. Immutable; share one instance.</summary>
public sealed record Hl7ParseOptions
{
    /// <summary>The defaults: no segment length limit, a segment count no real feed reaches, windows-1252 as the fallback charset.</summary>
    public static Hl7ParseOptions Default { get; } = new();

    /// <summary>
    /// Longest segment accepted, in bytes. Default: no limit but the input's own length. An OBX-5 carrying a base64
    /// document (ED) is a real segment of several megabytes, and a frame is already capped where it is read (the MLLP
    /// listener's <c>maxFrameBytes</c>, 16 MiB by default), so a second, smaller cap would only refuse real messages.
    /// </summary>
    public int MaxSegmentLength { get; init; } = int.MaxValue;

    /// <summary>Most segments accepted in one message. Default 50,000: a cumulative lab report rarely passes 2,000.</summary>
    public int MaxSegments { get; init; } = 50_000;

    /// <summary>
    /// Character set used when MSH-18 is empty or says ASCII/UTF-8 but the bytes are not valid UTF-8, and when
    /// MSH-18 names a set we do not know. Default windows-1252: what mislabelled English feeds actually send
    /// (a pound sign or a curly quote from a Windows PAS).
    /// </summary>
    public Encoding FallbackEncoding { get; init; } = Hl7Charsets.Windows1252;

    /// <summary>
    /// Report unknown or unterminated escape sequences as <see cref="Hl7IssueCode.InvalidEscape"/> warnings. Default on:
    /// the check costs one vectorised scan for the escape character, which most segments do not hold.
    /// </summary>
    public bool ValidateEscapes { get; init; } = true;
}
