using System.Text.Json;
using Hl7.Fhir.Model;
using StreamEngine.Hl7v2;
using StreamEngine.TestKit;

namespace StreamEngine.Fhir.Tests;

/// <summary>The facts ../shared/corpus/nhs/expected-facts.json (copied to TestData/nhs) says each NHS example's FHIR must show.</summary>
public sealed class NhsExpectedFactsTests
{
    private static readonly MessageMapper Mapper = new();

    public static TheoryData<string> Examples()
    {
        var data = new TheoryData<string>();
        using JsonDocument facts = JsonDocument.Parse(TestData.Bytes("nhs", "expected-facts.json"));
        foreach (JsonProperty example in facts.RootElement.EnumerateObject())
        {
            data.Add(example.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void EveryExpectedFactHolds(string example)
    {
        Assert.True(Hl7Parser.TryParse(TestData.Bytes("nhs", example), out Hl7Message? message, out _));
        MappingResult result = Mapper.Map(message!);
        Assert.True(result.Succeeded, string.Join(",", result.Issues));
        Resource[] resources = result.Bundle!.Entry.Select(e => e.Resource!).ToArray();
        Patient[] patients = resources.OfType<Patient>().ToArray();
        Encounter[] encounters = resources.OfType<Encounter>().ToArray();

        using JsonDocument facts = JsonDocument.Parse(TestData.Bytes("nhs", "expected-facts.json"));
        foreach (JsonElement fact in facts.RootElement.GetProperty(example).EnumerateArray())
        {
            string[] f = fact.EnumerateArray().Select(x => x.GetString()!).ToArray();
            bool holds = f[0] switch
            {
                "patient_identifier" => patients.Any(p => p.Identifier.Any(i => i.System == f[1] && i.Value == f[2])),
                "nhs_verification" => patients.Any(p => p.Identifier.Any(i => i.System == NhsNumber.System && i.Extension.Any(e =>
                    e.Url == "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus" && e.Value is CodeableConcept c && c.Coding[0].Code == f[1]))),
                "ethnic" => patients.Any(p => p.Extension.Any(e =>
                    e.Url == "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory" && e.Value is CodeableConcept c && c.Coding.Any(x => x.Code == f[1]))),
                "gp_org" => patients.Any(p => p.GeneralPractitioner.Any(r => r.Type == "Organization" && r.Identifier?.Value == f[1]
                    && r.Identifier.System == "https://fhir.nhs.uk/Id/ods-organization-code")),
                "gp_prac" => patients.Any(p => p.GeneralPractitioner.Any(r => r.Type == "Practitioner" && r.Identifier?.Value == f[1])),
                "encounter_class" => encounters.Any(e => e.Class.Code == f[1]),
                "encounter_identifier" => encounters.Any(e => e.Identifier.Any(i => i.Value == f[1])),
                "encounter_status" => encounters.Any(e => e.StatusElement.JsonValue as string == f[1]),
                "encounter_end" => encounters.Any(e => e.Period?.End?.StartsWith(f[1], StringComparison.Ordinal) == true),
                "merge_link" => MergeLinkHolds(result.Bundle!, f[1]),
                _ => throw new InvalidOperationException("unknown fact kind " + f[0]),
            };
            Assert.True(holds, $"{example}: {string.Join(' ', f)}");
        }
    }

    private static bool MergeLinkHolds(Bundle bundle, string identifier)
    {
        // The retired record (with that identifier) is replaced-by the survivor, and the survivor replaces it.
        Bundle.EntryComponent? old = bundle.Entry.FirstOrDefault(e => e.Resource is Patient p && p.Identifier.Any(i => i.Value == identifier));
        if (old?.Resource is not Patient retired)
        {
            return false;
        }

        return retired.Active == false
            && retired.Link.Any(l => l.Type == Patient.LinkType.ReplacedBy)
            && bundle.Entry.Any(e => e.Resource is Patient p && p.Link.Any(l => l.Type == Patient.LinkType.Replaces && l.Other.Reference == old.FullUrl));
    }
}
