using System.Collections.Frozen;

namespace StreamEngine.Fhir.Profiles;

/// <summary>Where a Z-segment field lands in FHIR.</summary>
public enum ZTargetKind
{
    /// <summary>An extension on the Patient or the Encounter, with the field's value.</summary>
    Extension,

    /// <summary>A further identifier on the Patient or the Encounter, in a given system.</summary>
    Identifier,

    /// <summary>The NHS number verification status (e.g. ZU1-27), when PID-32 does not give one.</summary>
    NhsNumberVerificationStatus,

    /// <summary>A <c>meta.security</c> label on the resource when the field holds one of the listed values.</summary>
    Security,
}

/// <summary>One Z-segment field rule.</summary>
public sealed record ZSegmentRule(
    string Segment,
    int Field,
    int Component,
    ZTargetKind Target,
    string Resource,
    string? Url,
    string ValueType,
    string? System,
    FrozenSet<string> When,
    string? SecurityCode);

/// <summary>A ConceptMap applied to the codes of the named v2 fields (e.g. <c>PV1-10</c>, <c>OBX-3</c>).</summary>
public sealed record ConceptMapBinding(string File, IReadOnlyList<string> Fields, ConceptMapTranslator Translator);

/// <summary>
/// What a Trust configures instead of writing code: which PID-3 repetition is the NHS number and which the MRN, the
/// identifier systems of its assigning authorities, local code systems, Z-segment rules, ConceptMaps and the
/// encounter status A04/A08 imply. Immutable; loaded by <see cref="TrustProfileLoader"/>.
/// </summary>
public sealed class TrustProfile
{
    /// <summary>The built-in profile: HL7 UK conventions, no Trust-specific systems.</summary>
    public static TrustProfile Default { get; } = new();

    /// <summary>Profile name (stamped nowhere; for logs and <c>convert</c>).</summary>
    public string Name { get; init; } = "default";

    /// <summary>CX.4 values that mean "this repetition is the NHS number" (besides CX.5 = NH).</summary>
    public FrozenSet<string> NhsNumberAuthorities { get; init; } = new[] { "NHS" }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>CX.5 values that mean the NHS number.</summary>
    public FrozenSet<string> NhsNumberTypes { get; init; } = new[] { "NH" }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>The MRN's assigning authority (CX.4), or null for "the first repetition of type MR".</summary>
    public string? MrnAuthority { get; init; }

    /// <summary>The MRN's identifier type (CX.5).</summary>
    public string MrnType { get; init; } = "MR";

    /// <summary>Identifier systems keyed by <c>AUTHORITY|TYPE</c>, or <c>AUTHORITY</c> for any type.</summary>
    public FrozenDictionary<string, string> IdentifierSystems { get; init; } = FrozenDictionary<string, string>.Empty;

    /// <summary>The visit number (PV1-19) system; null to derive it from CX.4.</summary>
    public string? VisitNumberSystem { get; init; }

    /// <summary>Coding-system names (CWE.3) to URIs, on top of the built-in ones (LN, SCT, I10...).</summary>
    public FrozenDictionary<string, string> CodeSystems { get; init; } = FrozenDictionary<string, string>.Empty;

    /// <summary>Encounter status per trigger event, overriding the built-in table (e.g. A04 arrived, A08 in-progress).</summary>
    public FrozenDictionary<string, string> EncounterStatus { get; init; } = FrozenDictionary<string, string>.Empty;

    /// <summary>MSH-4 and PL.4 are ODS codes (3-character organisation, 5-character site): the English default.</summary>
    public bool FacilitiesAreOdsCodes { get; init; } = true;

    /// <summary>Z-segment rules.</summary>
    public IReadOnlyList<ZSegmentRule> ZSegments { get; init; } = [];

    /// <summary>What OBR-24 says about the kind of a report or order, and what an empty one means (per sending application).</summary>
    public Terminology.DiagnosticSection DiagnosticSections { get; init; } = Terminology.DiagnosticSection.Default;

    /// <summary>ConceptMaps by field (e.g. <c>PV1-10</c>).</summary>
    public FrozenDictionary<string, ConceptMapTranslator> ConceptMaps { get; init; } = FrozenDictionary<string, ConceptMapTranslator>.Empty;

    /// <summary>The system of a local identifier, from the profile or derived from CX.4 and CX.5.</summary>
    public string SystemFor(string authority, string type)
    {
        if (IdentifierSystems.Count > 0)
        {
            if (IdentifierSystems.TryGetValue(authority + "|" + type, out string? exact))
            {
                return exact;
            }

            if (IdentifierSystems.TryGetValue(authority, out string? any))
            {
                return any;
            }
        }

        // Derived systems repeat in every message: built once per (authority, type).
        if (_derived.TryGetValue((authority, type), out string? derived))
        {
            return derived;
        }

        derived = Ids.IdentifierSystems.Local(authority, type);
        if (_derived.Count < 10_000)
        {
            _derived[(authority, type)] = derived;
        }

        return derived;
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Authority, string Type), string> _derived = new();
}
