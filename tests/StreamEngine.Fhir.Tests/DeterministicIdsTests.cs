using StreamEngine.Fhir.Ids;

namespace StreamEngine.Fhir.Tests;

public sealed class DeterministicIdsTests
{
    public static TheoryData<string?, string?, string?> Names => new()
    {
        { "Patient", "urn:streamengine:id:GOOD-HEALTH-HOSPITAL:MR", "PATID1234" },
        { "Patient", null, "X" },
        { null, "urn:a", "1" },
        { "Encounter", "urn:a", null },
        { "RelatedPerson", "", "" },
        { "Patient", "https://fhir.nhs.uk/Id/nhs-number", "Zoë Ñ 日本" },
        { "Observation", new string('s', 300), new string('v', 400) }, // past the stack buffer
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void UrnOfParts_IsTheUrnOfTheJoinedName(string? type, string? system, string? value)
    {
        string joined = $"{type}|{system}|{value}";
        Assert.Equal(DeterministicIds.Urn(joined), DeterministicIds.Urn(type, system, value));
        Assert.Equal("urn:uuid:" + DeterministicIds.For(joined).ToString("D"), DeterministicIds.Urn(type, system, value));
    }

    [Fact]
    public void Ids_DoNotChangeBetweenVersions()
    {
        // Upserts and references across messages rely on the same name giving the same id in every release (this value was
        // computed by the release before the id of parts existed).
        Assert.Equal("urn:uuid:2e4ea7bf-8ce1-8eca-8b49-f80a520da7b2", DeterministicIds.Urn("Patient", "urn:streamengine:id:GOOD-HEALTH-HOSPITAL:MR", "PATID1234"));
        Assert.Equal(DeterministicIds.For("Patient|urn:a|1"), DeterministicIds.For("Patient|urn:a|1".AsSpan()));
        Assert.Equal(45, DeterministicIds.Urn("Patient", "urn:a", "1").Length);
        Assert.NotEqual(DeterministicIds.Urn("Patient", "urn:a", "1"), DeterministicIds.Urn("Patient", "urn:a|1", ""));
    }
}
