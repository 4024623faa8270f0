using System.Runtime.CompilerServices;
using System.Text;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Tests;

/// <summary>
/// Golden files, discovered by convention: <c>TestData/&lt;EVENT&gt;/&lt;name&gt;.hl7</c> maps (default profile, no
/// received time) to exactly <c>&lt;name&gt;.expected.json</c> (indented). Each bundle also validates (Firely, base
/// R4), maps without an error issue, and round-trips through the Firely deserializer to the same bytes. To accept
/// an intended change: <c>STREAMENGINE_UPDATE_GOLDEN=1 dotnet test --filter GoldenTests</c>, then review the diff.
/// </summary>
public sealed class GoldenTests
{
    private static readonly MessageMapper Mapper = new();

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        string root = Path.Combine(AppContext.BaseDirectory, "TestData");
        foreach (string file in Directory.GetFiles(root, "*.hl7", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string relative = Path.GetRelativePath(root, file);
            string folder = Path.GetDirectoryName(relative)!;
            if (folder.Length == 7 && folder[3] == '_')
            {
                data.Add(relative.Replace('\\', '/'));
            }
        }

        return data;
    }

    [Fact]
    public void EveryEventTheIssueNames_HasAGoldenMessage()
    {
        string[] required =
        [
            "ADT_A01", "ADT_A02", "ADT_A03", "ADT_A04", "ADT_A05", "ADT_A06", "ADT_A07", "ADT_A08", "ADT_A11", "ADT_A12",
            "ADT_A13", "ADT_A28", "ADT_A31", "ADT_A34", "ADT_A40", "ORU_R01", "ORM_O01", "OML_O21", "SIU_S12", "SIU_S13",
            "SIU_S14", "SIU_S15", "SIU_S17", "SIU_S26", "MDM_T02", "VXU_V04",
        ];
        string root = Path.Combine(AppContext.BaseDirectory, "TestData");
        string[] missing = required.Where(e => !Directory.Exists(Path.Combine(root, e)) || Directory.GetFiles(Path.Combine(root, e), "*.hl7").Length == 0).ToArray();
        Assert.True(missing.Length == 0, "no golden message for " + string.Join(", ", missing));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MapsToTheExpectedBundle(string relative)
    {
        string file = Path.Combine(AppContext.BaseDirectory, "TestData", relative);
        Assert.True(Hl7Parser.TryParse(File.ReadAllBytes(file), out Hl7Message? message, out IReadOnlyList<Hl7Issue> parseIssues), string.Join(",", parseIssues));
        MappingResult result = Mapper.Map(message!);
        Assert.True(result.Succeeded, string.Join(",", result.Issues));
        Assert.DoesNotContain(result.Issues, i => i.IsError);

        // The event in the folder name is the event the message carries (routing on MSH-9.1/9.2).
        Assert.Equal(relative.Split('/')[0], message!.MessageCode + "_" + message.TriggerEvent);

        IReadOnlyList<string> errors = FhirValidation.Errors(result.Bundle!);
        Assert.True(errors.Count == 0, string.Join("\n", errors));

        byte[] compact = FhirJson.Serialize(result.Bundle!);
        Assert.Equal(Encoding.UTF8.GetString(FhirJson.SerializeWithFirely(result.Bundle!)), Encoding.UTF8.GetString(compact));
        Bundle parsed = new FhirJsonDeserializer().Deserialize<Bundle>(Encoding.UTF8.GetString(compact));
        Assert.Equal(Encoding.UTF8.GetString(compact), Encoding.UTF8.GetString(FhirJson.Serialize(parsed)));

        string actual = Encoding.UTF8.GetString(FhirJson.Serialize(result.Bundle!, indented: true)) + "\n";
        string expectedPath = Path.ChangeExtension(file, null) + ".expected.json";
        if (Environment.GetEnvironmentVariable("STREAMENGINE_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(Path.Combine(SourceTestData(), Path.ChangeExtension(relative, null) + ".expected.json"), actual);
            return;
        }

        Assert.True(File.Exists(expectedPath), $"{relative}: no expected output; run with STREAMENGINE_UPDATE_GOLDEN=1 and review it");
        Assert.Equal(File.ReadAllText(expectedPath), actual);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SameMessage_SameBytes_AndAResendUpsertsTheSameResources(string relative)
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TestData", relative));
        Assert.True(Hl7Parser.TryParse(bytes, out Hl7Message? first, out _));
        Assert.True(Hl7Parser.TryParse(bytes, out Hl7Message? second, out _));
        Bundle a = Mapper.Map(first!).Bundle!;
        Bundle b = Mapper.Map(second!).Bundle!;
        Assert.Equal(FhirJson.Serialize(a), FhirJson.Serialize(b));

        // Every entry is idempotent: a conditional PUT, a conditional create, or a PUT on a deterministic id.
        Assert.All(a.Entry, e => Assert.True(
            e.Request.Method == Bundle.HTTPVerb.PUT || (e.Request.Method == Bundle.HTTPVerb.POST && e.Request.IfNoneExist is not null),
            $"{e.Request.Method} {e.Request.Url}"));
        Assert.Equal(a.Entry.Count, a.Entry.Select(e => e.FullUrl).Distinct().Count());
        Provenance provenance = Assert.Single(a.Entry.Select(e => e.Resource).OfType<Provenance>());
        Assert.Equal(a.Entry.Count - 1, provenance.Target.Count);
    }

    private static string SourceTestData([CallerFilePath] string path = "") => Path.Combine(Path.GetDirectoryName(path)!, "TestData");
}
