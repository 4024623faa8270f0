namespace StreamEngine.Fhir.Ids;

/// <summary>
/// FHIR identifier systems for local (Trust) identifiers. A Trust profile will name its own URIs; until one is
/// configured, a local identifier's system is derived from its assigning authority (CX.4, else MSH-4) and its
/// identifier type (CX.5): <c>urn:streamengine:id:{authority}:{type}</c>. The form is stable so that conditional
/// upserts keep matching across messages.
/// </summary>
public static class IdentifierSystems
{
    /// <summary>HL7 table 0203 identifier types.</summary>
    public const string V2IdentifierType = "http://terminology.hl7.org/CodeSystem/v2-0203";

    /// <summary>The system of a local identifier.</summary>
    public static string Local(string? authority, string? type)
    {
        string a = Clean(authority);
        string t = Clean(type);
        return t.Length == 0 ? $"urn:streamengine:id:{a}" : $"urn:streamengine:id:{a}:{t}";
    }

    private static readonly System.Buffers.SearchValues<char> UrnSafe =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._");

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> Cleaned = new(StringComparer.Ordinal);

    /// <summary>A URN-safe form of a name: letters, digits, - . _ kept, anything else becomes -.</summary>
    public static string Clean(string? part)
    {
        if (string.IsNullOrWhiteSpace(part))
        {
            return "local";
        }

        if (part.Length <= 64 && !part.AsSpan().ContainsAnyExcept(UrnSafe))
        {
            return part; // the usual case: already clean, no copy
        }

        // Authorities are few and come in every message (MSH-4 "GOOD HEALTH HOSPITAL" in each local system): cleaned once.
        if (Cleaned.TryGetValue(part, out string? clean))
        {
            return clean;
        }

        Span<char> chars = stackalloc char[Math.Min(part.Length, 64)];
        int n = 0;
        foreach (char c in part.AsSpan(0, chars.Length))
        {
            chars[n++] = char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' ? c : '-';
        }

        clean = new string(chars[..n]);
        if (part.Length <= 64 && Cleaned.Count < 10_000) // names, not free text sent where a name was expected
        {
            Cleaned[part] = clean;
        }

        return clean;
    }
}
