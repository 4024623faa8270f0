using System.Collections.Frozen;

namespace StreamEngine.Fhir.Terminology;

/// <summary>
/// OBR-24, the diagnostic service section (HL7 table 0074): which reports and orders are laboratory ones (UK Core's Lab
/// profiles and laboratory categories apply) and which are imaging. No section given means laboratory, as in most
/// result feeds; a section that is neither (ECG, pulmonary function, nursing …) gets only its own code as category.
/// </summary>
public static class DiagnosticSection
{
    private static readonly FrozenSet<string> LaboratorySections = FrozenSet.ToFrozenSet(
    [
        "LAB", "BG", "BLB", "CG", "CH", "CP", "GE", "HM", "HLA", "IMM", "LABS", "MB", "MCB", "MYC", "OSL", "PAR", "PAT", "SP", "SR",
        "TX", "URN", "VR", // table 0074 (HLA, LABS, PAT: common local codes)
    ], StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenSet<string> ImagingSections = FrozenSet.ToFrozenSet(
    [
        "RAD", "RX", "CT", "NMR", "NMS", "OUS", "RUS", "VUS", "CUS", "XRC", "MR", "US", "IMG", // table 0074, and common local codes
    ], StringComparer.OrdinalIgnoreCase);

    /// <summary>True for a laboratory section, or none given.</summary>
    public static bool IsLaboratory(string? section) => string.IsNullOrWhiteSpace(section) || LaboratorySections.Contains(section.Trim());

    /// <summary>True for an imaging section (radiology, CT, MR, nuclear medicine, ultrasound).</summary>
    public static bool IsImaging(string? section) => !string.IsNullOrWhiteSpace(section) && ImagingSections.Contains(section.Trim());
}
