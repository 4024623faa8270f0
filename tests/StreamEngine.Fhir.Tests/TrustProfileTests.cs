using System.Runtime.CompilerServices;
using Hl7.Fhir.Model;
using StreamEngine.Fhir.Profiles;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;
using StreamEngine.TestKit;

namespace StreamEngine.Fhir.Tests;

/// <summary>The shipped example Trust profile (config/examples/trust-profile.json) and the checks on a bad one.</summary>
public sealed class TrustProfileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("se-profile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Example([CallerFilePath] string path = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", "..", "config", "examples", "trust-profile.json"));

    private static MappingResult Map(TrustProfile profile, params string[] segments)
    {
        Assert.True(Hl7Parser.TryParse(TestData.Message(segments), out Hl7Message? message, out _));
        return new MessageMapper(profile).Map(message!);
    }

    private static T One<T>(MappingResult result)
        where T : Resource => Assert.Single(result.Bundle!.Entry.Select(e => e.Resource).OfType<T>());

    [Fact]
    public void ExampleProfile_Identifiers_NhsAlias_VisitSystem_AndEncounterStatusChoice()
    {
        TrustProfile profile = TrustProfileLoader.Load(Example());
        MappingResult result = Map(profile,
            @"MSH|^~\&|PAS|RX1|ROUTE|RX1|20261201||ADT^A04|P1|P|2.4",
            "PID|1||AE77^^^R0BAE^MR~RX1^^^R0B^MR~9434765919^^^NHSNMBR",
            "PV1|1|E|EDMAJ^^^R0B01||||||||||||||||SP9^^^R0B");
        Assert.True(result.Succeeded, string.Join(",", result.Issues));
        Bundle.EntryComponent patient = result.Bundle!.Entry.Single(e => e.Resource is Patient);
        Assert.EndsWith(Uri.EscapeDataString("https://fhir.example-trust.nhs.uk/Id/mrn") + "|RX1", patient.Request.Url, StringComparison.Ordinal); // the R0B MRN, not the first MR
        var identifiers = ((Patient)patient.Resource).Identifier;
        Assert.Contains(identifiers, i => i.System == "https://fhir.example-trust.nhs.uk/Id/ae-number" && i.Value == "AE77");
        Assert.Contains(identifiers, i => i.System == NhsNumber.System && i.Value == "9434765919"); // CX.4 alias, no CX.5
        Encounter encounter = One<Encounter>(result);
        Assert.Equal("https://fhir.example-trust.nhs.uk/Id/spell-number", encounter.Identifier[0].System);
        Assert.Equal(Encounter.EncounterStatus.Arrived, encounter.Status); // A04 configured
        Assert.Empty(FhirValidation.Errors(result.Bundle!));
    }

    [Fact]
    public void ExampleProfile_ZSegmentRules()
    {
        TrustProfile profile = TrustProfileLoader.Load(Example());
        MappingResult result = Map(profile,
            @"MSH|^~\&|PAS|RX1|ROUTE|RX1|20261201||ADT^A01|Z1|P|2.4",
            "PID|1||RX1^^^R0B^MR~9434765919^^^NHS^NH",
            "PV1|1|O|OPD^^^R0B01||||||||||||||||SP9^^^R0B",
            "ZU1|||||||||||||||||||||||||||03",
            "ZU3||||6^Discharged from consultant's care",
            "ZU8||||2",
            "ZPI||Y|OLD123");
        Assert.True(result.Succeeded, string.Join(",", result.Issues));
        Patient patient = One<Patient>(result);
        Identifier nhs = patient.Identifier.Single(i => i.System == NhsNumber.System);
        Assert.Equal("03", ((CodeableConcept)nhs.Extension.Single().Value).Coding[0].Code); // ZU1-27 when PID-32 is empty
        Assert.Equal("R", patient.Meta.Security.Single().Code); // ZU8-4 = 2: national S-flag, location hidden
        Assert.True(((FhirBoolean)patient.Extension.Single(e => e.Url.EndsWith("interpreter-required", StringComparison.Ordinal)).Value).Value);
        Assert.Contains(patient.Identifier, i => i.System == "https://fhir.example-trust.nhs.uk/Id/legacy-pas-number" && i.Value == "OLD123");
        Extension outcome = One<Encounter>(result).Extension.Single();
        Assert.Equal("https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-OutcomeOfAttendance", outcome.Url);
        Assert.Equal(("https://fhir.hl7.org.uk/CodeSystem/UKCore-OutcomeOfAttendanceEngland", "6"),
            (((CodeableConcept)outcome.Value).Coding[0].System, ((CodeableConcept)outcome.Value).Coding[0].Code));
        Assert.Empty(FhirValidation.Errors(result.Bundle!));

        // PID-32 wins over ZU1-27; the disagreement is reported.
        MappingResult conflict = Map(profile,
            @"MSH|^~\&|PAS|RX1|ROUTE|RX1|20261201||ADT^A08|Z2|P|2.4",
            "PID|1||RX1^^^R0B^MR~9434765919^^^NHS^NH|||||||||||||||||||||||||||||NSTS01",
            "ZU1|||||||||||||||||||||||||||03");
        Assert.Equal("01", ((CodeableConcept)One<Patient>(conflict).Identifier.Single(i => i.System == NhsNumber.System).Extension.Single().Value).Coding[0].Code);
        Assert.Contains(conflict.Issues, i => i.Code == MappingIssueCode.ConflictingVerificationStatus && i.Segment == "ZU1" && i.Field == 27);
    }

    [Fact]
    public void ExampleProfile_ConceptMaps_AddNationalCodes_ToTheNamedFieldsOnly()
    {
        TrustProfile profile = TrustProfileLoader.Load(Example());
        MappingResult result = Map(profile,
            @"MSH|^~\&|WINPATH|RX1|ICE|RX1|20261201||ORU^R01|C1|P|2.4",
            "PID|1||RX1^^^R0B^MR",
            "PV1|1|I|WD12^^^R0B01|||||||300|||||||||SP9^^^R0B",
            "OBR|1|PL1^ICE|FL1^WINPATH|FBC^Full blood count^WINPATH|||20261201100000||||||||||||||||||F",
            "OBX|1|NM|WBC^White cells^WINPATH||11.2|10*9/L^^UCUM|||||F",
            "OBX|2|NM|XYZ^Unmapped^WINPATH||1|g/L^^UCUM|||||F",
            "OBX|3|CWE|HB^Haemoglobin^WINPATH||FBC^not a test code here^WINPATH||||||F");
        Assert.True(result.Succeeded, string.Join(",", result.Issues));
        DiagnosticReport report = One<DiagnosticReport>(result);
        Assert.Contains(report.Code.Coding, c => c.System == "http://snomed.info/sct" && c.Code == "26604007");
        Observation[] observations = result.Bundle!.Entry.Select(e => e.Resource).OfType<Observation>().ToArray();
        Assert.Contains(observations[0].Code.Coding, c => c.System == "http://loinc.org" && c.Code == "26464-8");
        Assert.Single(observations[1].Code.Coding); // "unmatched" is not a translation
        Assert.Single(((CodeableConcept)observations[2].Value).Coding); // OBX-5 is not a mapped field
        Encounter encounter = One<Encounter>(result);
        Assert.Contains(encounter.ServiceType.Coding, c => c.System == "http://snomed.info/sct" && c.Code == "394802001"); // PV1-10, any source system
        Assert.Empty(FhirValidation.Errors(result.Bundle!));
    }

    [Theory]
    [InlineData("""{ "nmae": "x" }""", "nmae")]
    [InlineData("""{ "encounterStatus": { "A04": "maybe" } }""", "encounterStatus.A04")]
    [InlineData("""{ "encounterStatus": { "ADMIT": "planned" } }""", "encounterStatus.ADMIT")]
    [InlineData("""{ "identifierSystems": { "R0B|MR": "not a uri" } }""", "identifierSystems.R0B|MR")]
    [InlineData("""{ "visitNumberSystem": "spell" }""", "visitNumberSystem")]
    [InlineData("""{ "mrn": { "authority": "R0B" } }""", "mrn.authority")]
    [InlineData("""{ "nhsNumber": { "assigningAuthorities": "NHS" } }""", "nhsNumber.assigningAuthorities")]
    [InlineData("""{ "zSegments": [ { "segment": "PID", "field": 3, "target": "identifier", "system": "https://x" } ] }""", "zSegments[0].segment")]
    [InlineData("""{ "zSegments": [ { "segment": "ZU1", "field": 27, "target": "elsewhere" } ] }""", "zSegments[0].target")]
    [InlineData("""{ "zSegments": [ { "segment": "ZU1", "field": 27, "target": "extension" } ] }""", "zSegments[0].url")]
    [InlineData("""{ "zSegments": [ { "segment": "ZU1", "field": 2, "target": "extension", "url": "https://x", "valueType": "Money" } ] }""", "zSegments[0].valueType")]
    [InlineData("""{ "zSegments": [ { "segment": "ZU8", "field": 4, "target": "security", "code": "R" } ] }""", "zSegments[0].when")]
    [InlineData("""{ "zSegments": [ { "segment": "ZU8", "field": 0, "target": "security", "when": ["1"], "code": "R" } ] }""", "zSegments[0].field")]
    [InlineData("""{ "conceptMaps": [ { "file": "missing.json", "fields": ["PV1-10"] } ] }""", "conceptMaps[0].file")]
    [InlineData("""{ "conceptMaps": [ { "file": "not-a-map.json", "fields": ["PV1-10"] } ] }""", "conceptMaps[0].file")]
    [InlineData("""{ "conceptMaps": [ { "file": "map.json", "fields": ["PV1.10"] } ] }""", "conceptMaps[0].fields")]
    [InlineData("""{ "conceptMaps": [ { "file": "map.json", "fields": ["PV1-10"] }, { "file": "map.json", "fields": ["PV1-10"] } ] }""", "conceptMaps[1].fields")]
    [InlineData("""{ "diagnosticSections": { "empty": "radiology" } }""", "diagnosticSections.empty")]
    [InlineData("""{ "diagnosticSections": { "default": "imaging" } }""", "diagnosticSections.default")]
    [InlineData("""{ "diagnosticSections": { "emptyBySendingApplication": { "CRIS": "xray" } } }""", "diagnosticSections.emptyBySendingApplication.CRIS")]
    [InlineData("""{ "diagnosticSections": { "emptyBySendingApplication": ["CRIS"] } }""", "diagnosticSections.emptyBySendingApplication")]
    [InlineData("""{ "diagnosticSections": { "laboratory": ["COAG"], "imaging": ["coag"] } }""", "diagnosticSections.imaging")]
    [InlineData("""{ "name": "x", """, "(line")]
    public void BadProfile_FailsNamingTheFileAndTheKey(string json, string key)
    {
        File.WriteAllText(Path.Combine(_dir, "not-a-map.json"), """{ "resourceType": "ConceptMap", "status": "bogus" }""");
        File.WriteAllText(Path.Combine(_dir, "map.json"), """
            { "resourceType": "ConceptMap", "status": "active",
              "group": [ { "target": "http://snomed.info/sct", "element": [ { "code": "300", "target": [ { "code": "394802001", "equivalence": "equivalent" } ] } ] } ] }
            """);
        string file = Path.Combine(_dir, "trust.json");
        File.WriteAllText(file, json);
        var e = Assert.Throws<TrustProfileException>(() => TrustProfileLoader.Load(file));
        Assert.StartsWith($"Trust profile trust.json: {key}", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("CRIS", "", "imaging")] // a radiology system that leaves OBR-24 empty
    [InlineData("WINPATH", "", "laboratory")] // the profile's default for the others
    [InlineData("CRIS", "COAG", "laboratory")] // a local code the profile names
    [InlineData("WINPATH", "CT", "laboratory")] // the profile's reading (cytology here) wins over the built-in one (CT scan)
    [InlineData("CRIS", "DXA", "imaging")]
    [InlineData("ECG", "", "other")]
    public void DiagnosticSections_FromTheProfile_DecideTheKindOfReport(string sender, string section, string kind)
    {
        string file = Path.Combine(_dir, "sections.json");
        File.WriteAllText(file, """
            { "diagnosticSections": { "empty": "laboratory", "emptyBySendingApplication": { "cris": "imaging", "ECG": "other" },
                                      "laboratory": ["COAG", "CT"], "imaging": ["DXA"] } }
            """);
        TrustProfile profile = TrustProfileLoader.Load(file);
        MappingResult result = Map(profile, $@"MSH|^~\&|{sender}|RX1|X|Y|20261201||ORU^R01|R1|P|2.4", "PID|1||M1^^^R0B^MR",
            $"OBR|1|PL1|FI1|CTHEAD^CT Head^L|||20261201090000|||||||||||||||||{section}|F", "OBX|1|TX|REPORT^Report^L||No acute abnormality||||||F");
        Assert.True(result.Succeeded, string.Join(",", result.Issues));
        DiagnosticReport report = One<DiagnosticReport>(result);
        Observation observation = One<Observation>(result);
        Assert.Equal(kind == "laboratory" ? UkCore.DiagnosticReportLabProfile : UkCore.DiagnosticReportProfile,
            report.Meta.Profile.Single());
        string?[] categories = [.. report.Category.SelectMany(c => c.Coding).Select(c => c.Code)];
        // LAB for a laboratory report; RAD when the profile, not OBR-24, says imaging; the section as given besides.
        Assert.Equal(kind == "laboratory" ? "LAB" : kind == "imaging" && section.Length == 0 ? "RAD" : null, categories.FirstOrDefault(c => c is "LAB" or "RAD"));
        Assert.Equal(section.Length > 0, categories.Contains(section));
        Assert.Equal(kind == "other" ? null : kind, observation.Category.SelectMany(c => c.Coding).SingleOrDefault()?.Code);
        Assert.Empty(FhirValidation.Errors(result.Bundle!));
    }

    [Fact]
    public void EmptyProfile_IsTheDefault()
    {
        string file = Path.Combine(_dir, "empty.json");
        File.WriteAllText(file, "{}");
        TrustProfile profile = TrustProfileLoader.Load(file);
        Assert.Equal(TrustProfile.Default.NhsNumberAuthorities, profile.NhsNumberAuthorities);
        Assert.Empty(profile.ZSegments);
    }
}
