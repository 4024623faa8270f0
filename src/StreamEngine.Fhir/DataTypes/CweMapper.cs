using Hl7.Fhir.Model;
using StreamEngine.Fhir.Profiles;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.DataTypes;

/// <summary>CE / CWE / CNE to CodeableConcept and Coding, per the IG's CWE[CodeableConcept] map.</summary>
public static class CweMapper
{
    /// <summary>
    /// The identifier triplet (CWE.1-3) and the alternate triplet (CWE.4-6) become codings; CWE.9 (original text),
    /// else CWE.2 when there is no code, becomes the text. Null when nothing is valued.
    /// </summary>
    public static CodeableConcept? ToCodeableConcept(Hl7Value cwe, TrustProfile profile)
    {
        Coding? primary = Triplet(cwe, 1, profile);
        Coding? alternate = Triplet(cwe, 4, profile);
        string? text = V2Text.Of(cwe.Component(9));
        if (primary is null && alternate is null)
        {
            text ??= V2Text.Of(cwe.Component(2)) ?? V2Text.Of(cwe.Component(5));
            return text is null ? null : new CodeableConcept { Text = text };
        }

        var concept = new CodeableConcept();
        if (primary is not null)
        {
            concept.Coding.Add(primary);
        }

        if (alternate is not null)
        {
            concept.Coding.Add(alternate);
        }

        if (text is not null)
        {
            concept.Text = text;
        }

        return concept;
    }

    /// <summary>The first triplet as a Coding; null when CWE.1 is empty.</summary>
    public static Coding? ToCoding(Hl7Value cwe, TrustProfile profile) => Triplet(cwe, 1, profile);

    private static Coding? Triplet(Hl7Value cwe, int first, TrustProfile profile)
    {
        string? code = V2Text.Of(cwe.Component(first));
        if (code is null)
        {
            return null;
        }

        var coding = new Coding { Code = code };
        string? display = V2Text.Of(cwe.Component(first + 1));
        if (display is not null)
        {
            coding.Display = display;
        }

        string? system = CodingSystems.UriFor(V2Text.Of(cwe.Component(first + 2)), profile);
        if (system is not null)
        {
            coding.System = system;
        }

        return coding;
    }
}
