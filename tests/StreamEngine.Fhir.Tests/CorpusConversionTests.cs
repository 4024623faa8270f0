using Hl7.Fhir.Model;
using StreamEngine.Hl7v2;
using StreamEngine.TestKit;

namespace StreamEngine.Fhir.Tests;

/// <summary>Every FHIR-Converter sample converts without error and validates (see TestData/fhir-converter/README.md).</summary>
public sealed class CorpusConversionTests
{
    private static readonly MessageMapper Mapper = new();

    public static TheoryData<string> Inputs()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.GetFiles(TestData.PathOf("fhir-converter", "hl7v2"), "*.hl7").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void ConvertsWithoutError_AndValidates(string file)
    {
        Assert.True(Hl7Parser.TryParse(TestData.Bytes("fhir-converter", "hl7v2", file), out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues), string.Join(",", issues));
        MappingResult result = Mapper.Map(message!);
        Assert.True(result.Succeeded, string.Join(",", result.Issues));
        Assert.DoesNotContain(result.Issues, i => i.IsError);
        IReadOnlyList<string> errors = FhirValidation.Errors(result.Bundle!);
        Assert.True(errors.Count == 0, string.Join("\n", errors));

        // Our fast JSON writer writes exactly what Firely's serializer writes.
        Assert.Equal(System.Text.Encoding.UTF8.GetString(FhirJson.SerializeWithFirely(result.Bundle!)), System.Text.Encoding.UTF8.GetString(FhirJson.Serialize(result.Bundle!)));
    }
}

/// <summary>The validator used above does find errors: a guard against a validation that cannot fail.</summary>
public sealed class FhirValidationGuardTests
{
    [Fact]
    public void AnInvalidBundle_HasErrors()
    {
        var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
        bundle.Entry.Add(new Bundle.EntryComponent
        {
            FullUrl = "urn:uuid:2b0d6a57-8a4c-4b8e-9a43-0f7b1f6c1d11",
            Resource = new Observation(), // status and code are required
            Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Observation" },
        });
        bundle.Entry.Add(new Bundle.EntryComponent { FullUrl = "urn:uuid:2b0d6a57-8a4c-4b8e-9a43-0f7b1f6c1d12", Resource = new Patient() }); // no request in a transaction
        IReadOnlyList<string> errors = FhirValidation.Errors(bundle);
        Assert.Contains(errors, e => e.Contains("status", StringComparison.Ordinal) || e.Contains("code", StringComparison.Ordinal));
        Assert.True(errors.Count >= 2, string.Join("\n", errors));
    }
}
