using System.Collections.Frozen;
using StreamEngine.Fhir.Profiles;

namespace StreamEngine.Fhir.Terminology;

/// <summary>
/// HL7 table 0396 coding-system names (CWE.3, CWE.6) to FHIR code system URIs. HL7nnnn becomes the v2 table's
/// terminology.hl7.org URI; a Trust's own names come from its profile; anything else gets a stable local URN.
/// </summary>
public static class CodingSystems
{
    private static readonly FrozenDictionary<string, string> Known = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["LN"] = "http://loinc.org",
        ["LOINC"] = "http://loinc.org",
        ["SCT"] = "http://snomed.info/sct",
        ["SNOMED"] = "http://snomed.info/sct",
        ["SNOMEDCT"] = "http://snomed.info/sct",
        ["SNM"] = "http://snomed.info/sct",
        ["I10"] = "http://hl7.org/fhir/sid/icd-10",
        ["ICD10"] = "http://hl7.org/fhir/sid/icd-10",
        ["I10C"] = "http://hl7.org/fhir/sid/icd-10-cm",
        ["I9"] = "http://hl7.org/fhir/sid/icd-9-cm",
        ["I9C"] = "http://hl7.org/fhir/sid/icd-9-cm",
        ["I9CDX"] = "http://hl7.org/fhir/sid/icd-9-cm",
        ["CVX"] = "http://hl7.org/fhir/sid/cvx",
        ["MVX"] = "http://hl7.org/fhir/sid/mvx",
        ["NDC"] = "http://hl7.org/fhir/sid/ndc",
        ["RXNORM"] = "http://www.nlm.nih.gov/research/umls/rxnorm",
        ["UCUM"] = Terminology.UkCore.Ucum,
        ["ISO+"] = "urn:iso:std:iso:2955",
        ["ANSI+"] = "urn:oid:2.16.840.1.113883.6.7",
        ["C4"] = "http://www.ama-assn.org/go/cpt",
        ["CPT"] = "http://www.ama-assn.org/go/cpt",
        ["CDCREC"] = "urn:oid:2.16.840.1.113883.6.238",
        ["OPCS4"] = "http://fhir.nhs.net/CodeSystem/opcs-4",
        ["OPCS"] = "http://fhir.nhs.net/CodeSystem/opcs-4",
        ["DMD"] = "https://dmd.nhs.uk",
        ["READ"] = "http://read.info/readv2",
        ["CTV3"] = "http://read.info/ctv3",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    /// <summary>The URI for a coding-system name, or null when the name is empty.</summary>
    public static string? UriFor(string? name, TrustProfile profile)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return null;
        }

        if (profile.CodeSystems.Count > 0 && profile.CodeSystems.TryGetValue(name, out string? configured))
        {
            return configured;
        }

        if (Known.TryGetValue(name, out string? known))
        {
            return known;
        }

        // HL70001, HL7-0001, HL7 0001 -> the v2 table's code system.
        if (name.StartsWith("HL7", StringComparison.OrdinalIgnoreCase))
        {
            ReadOnlySpan<char> digits = name.AsSpan(3).TrimStart(" -_");
            if (digits.Length is >= 3 and <= 4 && int.TryParse(digits, out int table))
            {
                return $"http://terminology.hl7.org/CodeSystem/v2-{table:D4}";
            }
        }

        if (name.StartsWith("urn:", StringComparison.Ordinal) || name.StartsWith("http", StringComparison.Ordinal))
        {
            return name;
        }

        return "urn:streamengine:codesystem:" + Ids.IdentifierSystems.Clean(name);
    }
}
