namespace StreamEngine.Fhir.Terminology;

/// <summary>UK Core canonical URLs used by the mappers (from the UK Core package; see spec/uk-core).</summary>
public static class UkCore
{
    /// <summary>UKCore-Patient profile.</summary>
    public const string PatientProfile = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient";

    /// <summary>UKCore-Encounter profile.</summary>
    public const string EncounterProfile = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Encounter";

    /// <summary>NHS number verification status extension (sits on the NHS-number identifier).</summary>
    public const string NhsNumberVerificationStatusExtension =
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus";

    /// <summary>Its England code system: 01..08.</summary>
    public const string NhsNumberVerificationStatusSystem =
        "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland";

    /// <summary>HL7 v3 ActCode, for Encounter.class.</summary>
    public const string V3ActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

    /// <summary>HL7 v3 NullFlavor, for a required code that the message does not give.</summary>
    public const string V3NullFlavor = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor";
}
