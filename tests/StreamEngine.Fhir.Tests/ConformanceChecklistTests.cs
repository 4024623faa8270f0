using Hl7.Fhir.Model;
using StreamEngine.Hl7v2;
using StreamEngine.TestKit;

namespace StreamEngine.Fhir.Tests;

/// <summary>The 20 rows of ../shared/spec/conformance-checklist.md, one test each, on the golden messages.</summary>
public sealed class ConformanceChecklistTests
{
    private static readonly MessageMapper Mapper = new();

    private static Bundle Golden(string relative) => Map(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TestData", relative)));

    private static Bundle Map(byte[] bytes)
    {
        Assert.True(Hl7Parser.TryParse(bytes, out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues), string.Join(",", issues));
        MappingResult result = Mapper.Map(message!);
        Assert.True(result.Succeeded, string.Join(",", result.Issues));
        return result.Bundle!;
    }

    private static T One<T>(Bundle bundle)
        where T : Resource => Assert.Single(bundle.Entry.Select(e => e.Resource).OfType<T>());

    private static Encounter Encounter(string relative) => One<Encounter>(Golden(relative));

    [Fact]
    public void Row01_TransactionBundle_IdentifierTimestamp_AndProvenanceWithTheEvent()
    {
        Bundle bundle = Golden("ADT_A01/nhs-admit-full.hl7");
        Assert.Equal(Bundle.BundleType.Transaction, bundle.Type);
        Assert.Equal("G-A01-1", bundle.Identifier.Value);
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 10, 15, 0, TimeSpan.Zero), bundle.Timestamp); // no offset: Europe/London (GMT in December)
        Provenance provenance = One<Provenance>(bundle);
        Assert.Equal(("http://terminology.hl7.org/CodeSystem/v2-0003", "A01"), (provenance.Activity.Coding[0].System, provenance.Activity.Coding[0].Code));
        Assert.Contains("PAS", provenance.Entity[0].What.Display, StringComparison.Ordinal);
        Assert.Equal("G-A01-1", provenance.Entity[0].What.Identifier.Value);
        Assert.Contains(provenance.Agent, a => a.Who.Display?.Contains("mapping", StringComparison.Ordinal) == true);
    }

    [Fact]
    public void Row02_Msh4_IsTheSendingOrganisationsOdsCode()
    {
        Provenance provenance = One<Provenance>(Golden("ADT_A01/nhs-admit-full.hl7"));
        Identifier org = provenance.Agent.Single(a => a.Type.Coding[0].Code == "author").Who.Identifier;
        Assert.Equal(("https://fhir.nhs.uk/Id/ods-organization-code", "RX1"), (org.System, org.Value));

        Bundle site = Map(TestData.Message(@"MSH|^~\&|PAS|RX101|X|Y|20261201||ADT^A08|S1|P|2.4", "PID|1||M1^^^R0B^MR"));
        Assert.Equal("https://fhir.nhs.uk/Id/ods-site-code", One<Provenance>(site).Agent[0].Who.Identifier.System);
    }

    [Fact]
    public void Row03_NhsNumber_AtMostOne_Modulus11Checked_SpacesStripped_ConfiguredAliasesToo()
    {
        Bundle bundle = Map(TestData.Message(@"MSH|^~\&|PAS|RX1|X|Y|20261201||ADT^A08|N1|P|2.4",
            "PID|1||M1^^^R0B^MR~943 476 5919^^^NHS^NH~9990000026^^^NHS^NH~9990000019^^^NHS^NH"));
        Patient patient = One<Patient>(bundle);
        Identifier nhs = Assert.Single(patient.Identifier, i => i.System == "https://fhir.nhs.uk/Id/nhs-number");
        Assert.Equal("9434765919", nhs.Value);
        Assert.Contains(patient.Identifier, i => i.Value == "9990000019" && i.System != NhsNumber.System); // invalid: kept plain
    }

    [Fact]
    public void Row04_TracingStatus_SitsOnTheNhsNumberIdentifier()
    {
        Patient patient = One<Patient>(Golden("ADT_A01/nhs-admit-full.hl7"));
        Identifier nhs = patient.Identifier.Single(i => i.System == NhsNumber.System);
        Extension status = Assert.Single(nhs.Extension);
        Assert.Equal("https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus", status.Url);
        Coding coding = ((CodeableConcept)status.Value).Coding[0];
        Assert.Equal(("https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland", "01"), (coding.System, coding.Code));
        Assert.DoesNotContain(patient.Extension, e => e.Url == status.Url);
    }

    [Fact]
    public void Row05_OtherIdentifiers_TypeSystemValueAssigner()
    {
        Identifier mrn = One<Patient>(Golden("ADT_A01/nhs-admit-full.hl7")).Identifier.Single(i => i.Value == "RX20001");
        Assert.Equal(("http://terminology.hl7.org/CodeSystem/v2-0203", "MR"), (mrn.Type.Coding[0].System, mrn.Type.Coding[0].Code));
        Assert.Equal("R0B", mrn.Assigner.Identifier.Value);
        Assert.NotNull(mrn.System);
    }

    [Fact]
    public void Row06_Names_FamilyGivenPrefixUse_EveryRepetition()
    {
        Patient patient = One<Patient>(Golden("ADT_A08/demographics-update.hl7"));
        Assert.Equal(2, patient.Name.Count);
        HumanName official = patient.Name[0];
        Assert.Equal(("PATEL", "ASHA", "K", "MRS"), (official.Family, official.Given.First(), official.Given.Last(), official.Prefix.Single()));
        Assert.Equal(HumanName.NameUse.Official, official.Use);
        Assert.Equal(HumanName.NameUse.Maiden, patient.Name[1].Use);
    }

    [Fact]
    public void Row07_BirthDate_PartialDatesStayPartial_TimeGoesToBirthTime()
    {
        Assert.Equal("1990-03", One<Patient>(Golden("ADT_A28/add-person.hl7")).BirthDate);
        Patient withTime = One<Patient>(Map(TestData.Message(@"MSH|^~\&|PAS|RX1|X|Y|20261201||ADT^A28|B1|P|2.4", "PID|1||M1^^^R0B^MR||X^Y||202611281432|F")));
        Assert.Equal("2026-11-28", withTime.BirthDate);
        Extension birthTime = Assert.Single(withTime.BirthDateElement.Extension);
        Assert.Equal("http://hl7.org/fhir/StructureDefinition/patient-birthTime", birthTime.Url);
        Assert.Equal("2026-11-28T14:32:00+00:00", ((FhirDateTime)birthTime.Value).Value);
    }

    [Theory]
    [InlineData("F", AdministrativeGender.Female)]
    [InlineData("M", AdministrativeGender.Male)]
    [InlineData("U", AdministrativeGender.Unknown)]
    [InlineData("O", AdministrativeGender.Other)]
    [InlineData("A", AdministrativeGender.Other)]
    [InlineData("N", AdministrativeGender.Other)]
    public void Row08_Gender(string code, AdministrativeGender expected) =>
        Assert.Equal(expected, One<Patient>(Map(TestData.Message(@"MSH|^~\&|PAS|RX1|X|Y|20261201||ADT^A28|G1|P|2.4", $"PID|1||M1^^^R0B^MR||X^Y||1980|{code}"))).Gender);

    [Fact]
    public void Row09_Address()
    {
        Address address = Assert.Single(One<Patient>(Golden("ADT_A01/nhs-admit-full.hl7")).Address);
        Assert.Equal(["12 HIGH STREET", "FLAT 2"], address.Line);
        Assert.Equal(("LEEDS", "WEST YORKSHIRE", "LS1 4AP", "GBR"), (address.City, address.District, address.PostalCode, address.Country));
        Assert.Equal(Address.AddressUse.Home, address.Use);
    }

    [Fact]
    public void Row10_Death_DateTimeElseIndicator()
    {
        Assert.Equal("2026-12-04T15:30:00+00:00", ((FhirDateTime)One<Patient>(Golden("ADT_A31/update-person-deceased.hl7")).Deceased).Value);
        Patient indicatorOnly = One<Patient>(Map(TestData.Message(@"MSH|^~\&|PAS|RX1|X|Y|20261201||ADT^A31|D1|P|2.4", "PID|1||M1^^^R0B^MR|||||||||||||||||||||||||||Y")));
        Assert.True(((FhirBoolean)indicatorOnly.Deceased).Value);
    }

    [Fact]
    public void Row11_EthnicCategory_UkCoreExtension_UnknownLocalCodesAsTextOnly()
    {
        Extension ethnic = One<Patient>(Golden("ADT_A01/nhs-admit-full.hl7")).Extension
            .Single(e => e.Url == "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory");
        Coding coding = ((CodeableConcept)ethnic.Value).Coding.Single();
        Assert.Equal(("https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland", "J"), (coding.System, coding.Code));

        Patient local = One<Patient>(Map(TestData.Message(@"MSH|^~\&|PAS|RX1|X|Y|20261201||ADT^A28|E1|P|2.4", "PID|1||M1^^^R0B^MR|||||||||||||||||||X9^Local group")));
        var concept = (CodeableConcept)local.Extension.Single().Value;
        Assert.Empty(concept.Coding);
        Assert.Equal("Local group", concept.Text);
    }

    [Fact]
    public void Row12And13_GeneralPractitioner_PracticeOdsCode_AndGpGmpNumber()
    {
        Patient patient = One<Patient>(Golden("ADT_A01/nhs-admit-full.hl7"));
        ResourceReference practice = patient.GeneralPractitioner.Single(r => r.Type == "Organization");
        Assert.Equal(("https://fhir.nhs.uk/Id/ods-organization-code", "B86001"), (practice.Identifier.System, practice.Identifier.Value));
        ResourceReference gp = patient.GeneralPractitioner.Single(r => r.Type == "Practitioner");
        Assert.Equal(("https://fhir.hl7.org.uk/Id/gmp-number", "G8123456"), (gp.Identifier.System, gp.Identifier.Value));
    }

    [Fact]
    public void Row14_VisitNumber_IsTheEncounterUpsertKey()
    {
        Bundle bundle = Golden("ADT_A03/discharge.hl7");
        Bundle.EntryComponent entry = bundle.Entry.Single(e => e.Resource is Encounter);
        Identifier visit = ((Encounter)entry.Resource).Identifier.Single();
        Assert.Equal(("VN", "SP100001"), (visit.Type.Coding[0].Code, visit.Value));
        Assert.Equal(Bundle.HTTPVerb.PUT, entry.Request.Method);
        Assert.EndsWith("|SP100001", entry.Request.Url, StringComparison.Ordinal);
    }

    [Fact]
    public void Row15_PatientClass_AndNMeansNoEncounter()
    {
        Assert.Equal("IMP", Encounter("ADT_A01/nhs-admit-full.hl7").Class.Code);
        Assert.Equal("EMER", Encounter("ADT_A04/ed-registration.hl7").Class.Code);
        Assert.Equal("AMB", Encounter("ADT_A07/inpatient-to-outpatient.hl7").Class.Code);
        Assert.Equal("PRENC", Encounter("ADT_A05/pre-admit.hl7").Class.Code);
        Assert.DoesNotContain(Golden("ADT_A28/add-person.hl7").Entry, e => e.Resource is Encounter);
    }

    [Fact]
    public void Row16_EncounterStatus_ByEvent()
    {
        Assert.Equal(Hl7.Fhir.Model.Encounter.EncounterStatus.InProgress, Encounter("ADT_A01/nhs-admit-full.hl7").Status);
        Assert.Equal(Hl7.Fhir.Model.Encounter.EncounterStatus.InProgress, Encounter("ADT_A02/transfer.hl7").Status);
        Assert.Equal(Hl7.Fhir.Model.Encounter.EncounterStatus.Finished, Encounter("ADT_A03/discharge.hl7").Status);
        Assert.Equal(Hl7.Fhir.Model.Encounter.EncounterStatus.Planned, Encounter("ADT_A05/pre-admit.hl7").Status);
        Assert.Equal(Hl7.Fhir.Model.Encounter.EncounterStatus.Cancelled, Encounter("ADT_A11/cancel-admit.hl7").Status);
        Assert.Equal(Hl7.Fhir.Model.Encounter.EncounterStatus.InProgress, Encounter("ADT_A13/cancel-discharge.hl7").Status);
    }

    [Fact]
    public void Row17_Location_ChainWithSiteOdsCode_AndTheWardLeftOnTransferIsCompleted()
    {
        Bundle bundle = Golden("ADT_A02/transfer.hl7");
        Encounter encounter = One<Encounter>(bundle);
        Assert.Equal(Hl7.Fhir.Model.Encounter.EncounterLocationStatus.Active, encounter.Location[0].Status);
        Assert.Equal(Hl7.Fhir.Model.Encounter.EncounterLocationStatus.Completed, encounter.Location[1].Status);
        var bed = (Location)bundle.Entry.Single(e => e.FullUrl == encounter.Location[0].Location.Reference).Resource;
        Assert.Equal(("bd", "02"), (bed.PhysicalType.Coding[0].Code, bed.Name));
        Location Parent(Location l) => (Location)bundle.Entry.Single(e => e.FullUrl == l.PartOf.Reference).Resource!;
        Location site = Parent(Parent(Parent(bed)));
        Assert.Equal(("si", "https://fhir.nhs.uk/Id/ods-site-code", "R0B01"), (site.PhysicalType.Coding[0].Code, site.Identifier[0].System, site.Identifier[0].Value));
        Assert.Equal("planned", Map(TestData.Message(@"MSH|^~\&|PAS|RX1|X|Y|20261201||ADT^A05|L1|P|2.4", "PID|1||M1^^^R0B^MR", "PV1|1|P|WD1||||||||||||||||V9^^^R0B"))
            .Entry.Select(e => e.Resource).OfType<Encounter>().Single().Location[0].StatusElement.JsonValue);
    }

    [Fact]
    public void Row18_Period_FromAdmitAndDischargeTimes()
    {
        Encounter encounter = Encounter("ADT_A03/discharge.hl7");
        Assert.Equal(("2026-12-01T09:30:00+00:00", "2026-12-05T11:30:00+00:00"), (encounter.Period.Start, encounter.Period.End));
    }

    [Fact]
    public void Row19_NhsDataDictionaryCodes_OnHospitalization_AndParticipants()
    {
        Encounter admit = Encounter("ADT_A01/nhs-admit-full.hl7");
        Extension method = admit.Hospitalization.Extension.Single();
        Assert.Equal("https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AdmissionMethod", method.Url);
        Assert.Equal(("https://fhir.hl7.org.uk/CodeSystem/UKCore-AdmissionMethodEngland", "21"), (((CodeableConcept)method.Value).Coding[0].System, ((CodeableConcept)method.Value).Coding[0].Code));
        Assert.Equal(("https://fhir.hl7.org.uk/CodeSystem/UKCore-SourceOfAdmissionEngland", "19"), (admit.Hospitalization.AdmitSource.Coding[0].System, admit.Hospitalization.AdmitSource.Coding[0].Code));
        Assert.Equal(["ATND", "CON", "ADM"], admit.Participant.Select(p => p.Type[0].Coding[0].Code));
        Encounter discharge = Encounter("ADT_A03/discharge.hl7");
        Assert.Equal(("https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeDestinationEngland", "19"),
            (discharge.Hospitalization.DischargeDisposition.Coding[0].System, discharge.Hospitalization.DischargeDisposition.Coding[0].Code));
    }

    [Fact]
    public void Row20_Results_ReportAndObservations()
    {
        Bundle bundle = Golden("ORU_R01/full-blood-count.hl7");
        DiagnosticReport report = One<DiagnosticReport>(bundle);
        Assert.Equal(["PLAC", "FILL"], report.Identifier.Select(i => i.Type.Coding[0].Code));
        Assert.Equal("26604007", report.Code.Coding[0].Code);
        Assert.Equal("2026-12-01T10:00:00+00:00", ((FhirDateTime)report.Effective).Value);
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 12, 30, 0, TimeSpan.Zero), report.Issued);
        Assert.Equal(DiagnosticReport.DiagnosticReportStatus.Final, report.Status);
        Assert.Contains(report.Category, c => c.Coding[0].System == "http://terminology.hl7.org/CodeSystem/v2-0074" && c.Coding[0].Code == "LAB");
        Observation[] observations = bundle.Entry.Select(e => e.Resource).OfType<Observation>().ToArray();
        Assert.Equal(observations.Length, report.Result.Count);

        Observation wcc = observations[0];
        var quantity = (Quantity)wcc.Value;
        Assert.Equal((11.2m, "10*9/L", "http://unitsofmeasure.org"), (quantity.Value!.Value, quantity.Code, quantity.System));
        Assert.Equal("4.0-11.0", wcc.ReferenceRange[0].Text);
        Assert.Equal("H", wcc.Interpretation[0].Coding[0].Code);
        Assert.Equal(ObservationStatus.Final, wcc.Status);
        Assert.Equal("2026-12-01T10:00:00+00:00", ((FhirDateTime)wcc.Effective).Value);
        Assert.Equal(report.Subject.Reference, wcc.Subject.Reference);
        Assert.All(observations, o => Assert.Contains(o.Category, c => c.Coding[0].Code == "laboratory"));

        var crp = (Quantity)observations[2].Value; // SN <^5
        Assert.Equal((5m, Quantity.QuantityComparator.LessThan), (crp.Value!.Value, crp.Comparator!.Value));
        Assert.Equal("3092008", ((CodeableConcept)observations[3].Value).Coding[0].Code); // CWE
        Assert.Equal(ObservationStatus.Preliminary, observations[3].Status);
        Assert.Equal("Provisional identification; sensitivities to follow.", observations[3].Note.Single().Text); // NTE after OBX
        Assert.Equal("Sample slightly haemolysed", ((FhirString)observations[4].Value).Value); // ST
        var pdf = (DocumentReference)bundle.Entry.Single(e => e.FullUrl == observations[5].DerivedFrom.Single().Reference).Resource; // ED
        Assert.Equal("application/pdf", pdf.Content[0].Attachment.ContentType);
        Assert.StartsWith("%PDF", System.Text.Encoding.ASCII.GetString(pdf.Content[0].Attachment.Data), StringComparison.Ordinal);
    }
}
