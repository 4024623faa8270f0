using System.Text;
using System.Text.Json;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using StreamEngine.Hl7v2;
using StreamEngine.TestKit;

namespace StreamEngine.Fhir.Tests;

public sealed class AdtMappingTests
{
    private static readonly MessageMapper Mapper = new();

    private static Hl7Message Parse(byte[] bytes)
    {
        Assert.True(Hl7Parser.TryParse(bytes, out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues), string.Join(",", issues));
        return message!;
    }

    private static Bundle Map(byte[] bytes)
    {
        MappingResult result = Mapper.Map(Parse(bytes));
        Assert.True(result.Succeeded, string.Join(",", result.Issues));
        return result.Bundle!;
    }

    [Fact]
    public void NhsAdmit_HasTheExpectedFacts()
    {
        Bundle bundle = Map(TestData.Bytes("nhs", "example01_admit.hl7"));
        Assert.Equal(Bundle.BundleType.Transaction, bundle.Type);
        Assert.Equal("EX01", bundle.Identifier.Value);
        Patient patient = Assert.Single(bundle.Entry.Select(e => e.Resource).OfType<Patient>());
        Identifier nhs = Assert.Single(patient.Identifier, i => i.System == "https://fhir.nhs.uk/Id/nhs-number");
        Assert.Equal("9990000034", nhs.Value);
        Extension status = Assert.Single(nhs.Extension);
        Assert.Equal("https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus", status.Url);
        Assert.Equal("02", ((CodeableConcept)status.Value).Coding[0].Code);
        Assert.Contains(patient.Identifier, i => i.Value == "RX10001" && i.Type.Coding[0].Code == "MR");
        Assert.Equal("TAYLOR", patient.Name[0].Family);
        Assert.Equal("1975-12-12", patient.BirthDate);
        Assert.Equal(AdministrativeGender.Male, patient.Gender);

        Encounter encounter = Assert.Single(bundle.Entry.Select(e => e.Resource).OfType<Encounter>());
        Assert.Equal("IMP", encounter.Class.Code);
        Assert.Equal("S0001", encounter.Identifier[0].Value);
        Assert.Equal(Encounter.EncounterStatus.InProgress, encounter.Status);
        Assert.Equal("2026-12-01T09:00:00+00:00", encounter.Period.Start);
        string patientUrl = bundle.Entry.Single(e => e.Resource is Patient).FullUrl;
        Assert.Equal(patientUrl, encounter.Subject.Reference);
    }

    [Fact]
    public void Upserts_AreConditionalPutsOnTheMrnAndVisitNumber()
    {
        Bundle bundle = Map(TestData.Bytes("nhs", "example01_admit.hl7"));
        Bundle.EntryComponent patient = bundle.Entry.Single(e => e.Resource is Patient);
        Bundle.EntryComponent encounter = bundle.Entry.Single(e => e.Resource is Encounter);
        Assert.Equal(Bundle.HTTPVerb.PUT, patient.Request.Method);
        Assert.StartsWith("Patient?identifier=", patient.Request.Url, StringComparison.Ordinal);
        Assert.EndsWith("|RX10001", patient.Request.Url, StringComparison.Ordinal);
        Assert.Equal(Bundle.HTTPVerb.PUT, encounter.Request.Method);
        Assert.EndsWith("|S0001", encounter.Request.Url, StringComparison.Ordinal);

        // Locations are created only if absent; the Provenance is a PUT on an id derived from the message id.
        Assert.All(bundle.Entry.Where(e => e.Resource is Location), e => Assert.NotNull(e.Request.IfNoneExist));
        Assert.StartsWith("Provenance/", bundle.Entry.Single(e => e.Resource is Provenance).Request.Url, StringComparison.Ordinal);
        Assert.All(bundle.Entry, e => Assert.StartsWith("urn:uuid:", e.FullUrl, StringComparison.Ordinal));
    }

    [Fact]
    public void UnsupportedMessageType_IsACodedError_NotACrash()
    {
        MappingResult result = Mapper.Map(Parse(TestData.Message(@"MSH|^~\&|PAS|RX1|X|Y|20260101||QRY^A19|7|P|2.4", "QRD|20260101")));
        Assert.False(result.Succeeded);
        Assert.Contains(result.Issues, i => i.Code == MappingIssueCode.UnsupportedMessageType && i.IsError);
    }

    [Fact]
    public void SameMessage_GivesTheSameBytes()
    {
        byte[] first = FhirJson.Serialize(Map(TestData.Bytes("bench", "adt_a01.hl7")));
        byte[] second = FhirJson.Serialize(Map(TestData.Bytes("bench", "adt_a01.hl7")));
        Assert.Equal(first, second);
    }

    [Fact]
    public void Serialised_IsCompactOneLine_AndRoundTripsThroughTheFirelyDeserializer()
    {
        byte[] json = FhirJson.Serialize(Map(TestData.Bytes("bench", "adt_a08_v24_z.hl7")));
        Assert.DoesNotContain((byte)'\n', json);
        using (JsonDocument.Parse(json))
        {
            // valid JSON
        }

        Bundle parsed = new FhirJsonDeserializer().Deserialize<Bundle>(Encoding.UTF8.GetString(json));
        Assert.Equal(json, FhirJson.Serialize(parsed));
    }

    [Fact]
    public void InvalidNhsNumber_IsKeptAsAPlainIdentifier_AndReported()
    {
        byte[] message = TestData.Message(@"MSH|^~\&|PAS|RX1|X|Y|20260101||ADT^A04|7|P|2.4", "PID|1||M1^^^R0B^MR~9990000019^^^NHS^NH||DOE^J");
        MappingResult result = Mapper.Map(Parse(message));
        Assert.True(result.Succeeded);
        Patient patient = result.Bundle!.Entry.Select(e => e.Resource).OfType<Patient>().Single();
        Assert.DoesNotContain(patient.Identifier, i => i.System == NhsNumber.System);
        Assert.Contains(patient.Identifier, i => i.Value == "9990000019");
        Assert.Contains(result.Issues, i => i.Code == MappingIssueCode.InvalidNhsNumber && i.Segment == "PID" && i.Field == 3);
    }

    [Fact]
    public void NoPid_IsAnErrorWithACode()
    {
        MappingResult result = Mapper.Map(Parse(TestData.Message(@"MSH|^~\&|PAS|RX1|X|Y|20260101||ADT^A08|7|P|2.4", "EVN|A08")));
        Assert.False(result.Succeeded);
        Assert.Contains(result.Issues, i => i.Code == MappingIssueCode.MissingPid && i.IsError);
    }

    [Fact]
    public void PersonLevelPatientClassN_HasNoEncounter()
    {
        Bundle bundle = Map(TestData.Message(@"MSH|^~\&|PAS|RX1|X|Y|20260101||ADT^A08|7|P|2.4", "PID|1||M1^^^R0B^MR", "PV1|1|N"));
        Assert.DoesNotContain(bundle.Entry, e => e.Resource is Encounter);
    }

    [Fact]
    public void Routing_UsesMsh9Components1And2_NotTheStructure()
    {
        Bundle bundle = Map(TestData.Message(@"MSH|^~\&|PAS|RX1|X|Y|20260101||ADT^A04^ADT_A99|7|P|2.4", "PID|1||M1^^^R0B^MR"));
        Assert.Equal(["Patient", "Provenance"], bundle.Entry.Select(e => e.Resource.TypeName));
    }
}
