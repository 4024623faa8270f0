using System.Collections.Frozen;

namespace StreamEngine.Fhir.Terminology;

/// <summary>UK Core and NHS canonical URLs and national code lists used by the mappers (see spec/uk-core).</summary>
public static class UkCore
{
    private const string Sd = "https://fhir.hl7.org.uk/StructureDefinition/";
    private const string Cs = "https://fhir.hl7.org.uk/CodeSystem/";

    /// <summary>A resource's meta naming one profile. Built directly: Firely's <c>Meta.Profile</c> setter goes through a LINQ
    /// projection and an extra list for every resource of every message.</summary>
    public static Hl7.Fhir.Model.Meta Meta(string profile) => new() { ProfileElement = [new Hl7.Fhir.Model.Canonical(profile)] };

    public const string PatientProfile = Sd + "UKCore-Patient";
    public const string EncounterProfile = Sd + "UKCore-Encounter";
    public const string LocationProfile = Sd + "UKCore-Location";
    public const string ProvenanceProfile = Sd + "UKCore-Provenance";
    public const string DiagnosticReportLabProfile = Sd + "UKCore-DiagnosticReport-Lab";
    public const string DiagnosticReportProfile = Sd + "UKCore-DiagnosticReport";
    public const string ObservationLabProfile = Sd + "UKCore-Observation-Lab";
    public const string ObservationProfile = Sd + "UKCore-Observation";
    public const string ServiceRequestLabProfile = Sd + "UKCore-ServiceRequest-Lab";
    public const string SpecimenProfile = Sd + "UKCore-Specimen";
    public const string AppointmentProfile = Sd + "UKCore-Appointment";
    public const string DocumentReferenceProfile = Sd + "UKCore-DocumentReference";
    public const string ImmunizationProfile = Sd + "UKCore-Immunization";
    public const string AllergyIntoleranceProfile = Sd + "UKCore-AllergyIntolerance";
    public const string ConditionProfile = Sd + "UKCore-Condition";
    public const string ProcedureProfile = Sd + "UKCore-Procedure";
    public const string RelatedPersonProfile = Sd + "UKCore-RelatedPerson";
    public const string MedicationRequestProfile = Sd + "UKCore-MedicationRequest";
    public const string ServiceRequestProfile = Sd + "UKCore-ServiceRequest";

    public const string NhsNumberVerificationStatusExtension = Sd + "Extension-UKCore-NHSNumberVerificationStatus";
    public const string DiagnosticReportNoteExtension = "http://hl7.org/fhir/5.0/StructureDefinition/extension-DiagnosticReport.note";
    public const string NhsNumberVerificationStatusSystem = Cs + "UKCore-NHSNumberVerificationStatusEngland";
    public const string EthnicCategoryExtension = Sd + "Extension-UKCore-EthnicCategory";
    public const string EthnicCategorySystem = Cs + "UKCore-EthnicCategoryEngland";
    public const string AdmissionMethodExtension = Sd + "Extension-UKCore-AdmissionMethod";
    public const string AdmissionMethodSystem = Cs + "UKCore-AdmissionMethodEngland";
    public const string SourceOfAdmissionSystem = Cs + "UKCore-SourceOfAdmissionEngland";
    public const string DischargeDestinationSystem = Cs + "UKCore-DischargeDestinationEngland";

    public const string OdsOrganizationCode = "https://fhir.nhs.uk/Id/ods-organization-code";
    public const string OdsSiteCode = "https://fhir.nhs.uk/Id/ods-site-code";
    public const string GmpNumber = "https://fhir.hl7.org.uk/Id/gmp-number";
    public const string GmcNumber = "https://fhir.hl7.org.uk/Id/gmc-number";

    public const string V3ActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
    public const string V3NullFlavor = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor";
    public const string V3ParticipationType = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
    public const string V3Confidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
    public const string V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074";
    public const string V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203";
    public const string ObservationCategory = "http://terminology.hl7.org/CodeSystem/observation-category";
    public const string LocationPhysicalType = "http://terminology.hl7.org/CodeSystem/location-physical-type";
    public const string ProvenanceAgentType = "http://terminology.hl7.org/CodeSystem/provenance-participant-type";
    public const string V2_0003 = "http://terminology.hl7.org/CodeSystem/v2-0003";
    public const string Ucum = "http://unitsofmeasure.org";
    public const string BirthTimeExtension = "http://hl7.org/fhir/StructureDefinition/patient-birthTime";
    public const string DataAbsentReason = "http://terminology.hl7.org/CodeSystem/data-absent-reason";

    /// <summary>NHS Data Dictionary ADMISSION METHOD codes (England).</summary>
    public static readonly FrozenSet<string> AdmissionMethods = Set("11 12 13 21 22 23 24 25 2A 2B 2C 2D 28 31 32 81 82 83 98 99");

    /// <summary>NHS Data Dictionary SOURCE OF ADMISSION codes (England).</summary>
    public static readonly FrozenSet<string> AdmissionSources = Set("19 29 39 49 51 52 53 54 65 66 79 85 87 88 98 99");

    /// <summary>NHS Data Dictionary DISCHARGE DESTINATION codes (England).</summary>
    public static readonly FrozenSet<string> DischargeDestinations = Set("19 29 30 37 38 48 49 50 51 52 53 54 65 66 79 84 85 87 88 98 99");

    /// <summary>NHS Data Dictionary ETHNIC CATEGORY codes (England).</summary>
    public static readonly FrozenSet<string> EthnicCategories = Set("A B C D E F G H J K L M N P R S Z 99");

    private static FrozenSet<string> Set(string codes) => codes.Split(' ').ToFrozenSet(StringComparer.Ordinal);
}
