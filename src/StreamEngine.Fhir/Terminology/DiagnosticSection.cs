using System.Collections.Frozen;

namespace StreamEngine.Fhir.Terminology;

/// <summary>What kind of service a report or an order is, by OBR-24.</summary>
public enum SectionKind
{
    /// <summary>Laboratory: UK Core's Lab profiles and laboratory categories.</summary>
    Laboratory,

    /// <summary>Imaging (radiology, CT, MR, nuclear medicine, ultrasound): the base profiles, the imaging category.</summary>
    Imaging,

    /// <summary>Another service (ECG, pulmonary function, nursing …): the base profiles, the section as its own category.</summary>
    Other,
}

/// <summary>
/// OBR-24, the diagnostic service section (HL7 table 0074, and the local codes UK feeds use): which reports and orders
/// are laboratory ones and which are imaging. What an empty OBR-24 means is the Trust profile's to say
/// (<c>diagnosticSections</c>), per sending application if need be: laboratory by default, as in most result feeds,
/// but a radiology system that leaves it empty sends imaging reports. The profile may add local codes to either kind.
/// </summary>
public sealed class DiagnosticSection
{
    private static readonly FrozenSet<string> BuiltInLaboratory = FrozenSet.ToFrozenSet(
    [
        "LAB", "BG", "BLB", "CG", "CH", "CP", "GE", "HM", "HLA", "IMM", "MB", "MCB", "MYC", "OSL", "PAR", "SP", "SR", "TX", "URN", "VR", // table 0074
        "LABS", "PAT", "PATH", "HAEM", "HAEMATOLOGY", "BIO", "BIOCHEM", "BIOCHEMISTRY", "CHEM", "MICRO", "MICROBIOLOGY", "VIROL",
        "VIROLOGY", "IMMUNOL", "IMMUNOLOGY", "HISTO", "HISTOPATH", "HISTOPATHOLOGY", "CYTO", "CYTOLOGY", "BT", "TRANSFUSION", // UK local
    ], StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenSet<string> BuiltInImaging = FrozenSet.ToFrozenSet(
    [
        "RAD", "RX", "CT", "NMR", "NMS", "OUS", "RUS", "VUS", "CUS", "XRC", // table 0074
        "CR", "DX", "MG", "MR", "NM", "RF", "US", "XA", // DICOM modalities (not PT: in table 0074 that is physical therapy)
        "IMG", "XR", "MRI", "USS", "PET", "FLUORO", "MAMMO", "DEXA", "RADIOLOGY", "IMAGING", // common local codes
    ], StringComparer.OrdinalIgnoreCase);

    private readonly FrozenDictionary<string, SectionKind> _local;
    private readonly FrozenDictionary<string, SectionKind> _emptyBySendingApplication;

    /// <summary>The built-in reading: an empty OBR-24 means laboratory; the built-in codes only.</summary>
    public static DiagnosticSection Default { get; } = new(SectionKind.Laboratory, null, null);

    /// <summary>Creates the rules of a Trust profile.</summary>
    /// <param name="empty">What an empty OBR-24 means.</param>
    /// <param name="emptyBySendingApplication">What it means for a given sending application (MSH-3.1), case-insensitive.</param>
    /// <param name="local">Local codes and their kind; these win over the built-in lists.</param>
    public DiagnosticSection(SectionKind empty, IReadOnlyDictionary<string, SectionKind>? emptyBySendingApplication,
        IReadOnlyDictionary<string, SectionKind>? local)
    {
        Empty = empty;
        _emptyBySendingApplication = (emptyBySendingApplication ?? new Dictionary<string, SectionKind>()).ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _local = (local ?? new Dictionary<string, SectionKind>()).ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>What an empty OBR-24 means when the sending application has no rule of its own.</summary>
    public SectionKind Empty { get; }

    /// <summary>The kind of a section code (OBR-24.1) from a sending application (MSH-3.1).</summary>
    public SectionKind Of(string? section, string sendingApplication)
    {
        if (string.IsNullOrWhiteSpace(section))
        {
            return _emptyBySendingApplication.TryGetValue(sendingApplication, out SectionKind bySender) ? bySender : Empty;
        }

        string code = section.Trim();
        return _local.TryGetValue(code, out SectionKind local) ? local
            : BuiltInLaboratory.Contains(code) ? SectionKind.Laboratory
            : BuiltInImaging.Contains(code) ? SectionKind.Imaging
            : SectionKind.Other;
    }
}
