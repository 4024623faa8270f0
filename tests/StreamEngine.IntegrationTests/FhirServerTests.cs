using System.Net.Http.Headers;
using System.Text.Json;
using StreamEngine.Fhir;
using StreamEngine.Hl7v2;
using StreamEngine.TestKit;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// Our bundles against a real FHIR R4 server (@medplum/fhir-router behind tests/peers/fhir-server.mjs): every golden
/// and FHIR-Converter message's transaction is accepted, and posting them all a second time changes nothing
/// (conditional PUTs, conditional creates and deterministic ids are idempotent), as the server's own search says.
/// </summary>
public sealed class FhirServerTests
{
    private static readonly string[] Types =
    [
        "Patient", "Encounter", "Location", "Observation", "DiagnosticReport", "ServiceRequest", "Specimen", "Appointment",
        "DocumentReference", "Immunization", "Provenance", "AllergyIntolerance", "Condition", "Procedure", "RelatedPerson",
        "Coverage", "MedicationRequest",
    ];

    internal static async Task<(PeerProcess Server, HttpClient Http)> StartServerAsync(IReadOnlyDictionary<string, string>? environment = null)
    {
        PeerProcess.RequireNodePeers();
        Skip.IfNot(Directory.Exists(Path.Combine(PeerProcess.PeersFolder, "node_modules", "@medplum", "fhir-router")), "npm ci --prefix tests/peers");
        PeerProcess server = PeerProcess.Start("node", environment ?? new Dictionary<string, string>(), "fhir-server.mjs", "0");
        int port = (await server.NextAsync()).GetProperty("listening").GetInt32();
        return (server, new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(60) });
    }

    [SkippableFact]
    public async Task EveryBundle_IsAcceptedByARealFhirServer_AndPostingItAgainChangesNothing()
    {
        (PeerProcess server, HttpClient http) = await StartServerAsync();
        await using PeerProcess serverLifetime = server;
        using HttpClient httpLifetime = http;

        string golden = Path.Combine(PeerProcess.PeersFolder, "..", "StreamEngine.Fhir.Tests", "TestData");
        IEnumerable<string> files = Directory.GetFiles(golden, "*.hl7", SearchOption.AllDirectories)
            .Concat(Directory.GetFiles(TestData.PathOf("fhir-converter", "hl7v2"), "*.hl7"))
            .Order(StringComparer.Ordinal);
        var mapper = new MessageMapper();
        var bundles = new List<(string File, byte[] Json)>();
        foreach (string file in files)
        {
            Assert.True(Hl7Parser.TryParse(File.ReadAllBytes(file), out Hl7Message? message, out _), file);
            MappingResult result = mapper.Map(message!);
            Assert.True(result.Succeeded, file);
            bundles.Add((Path.GetFileName(file), FhirJson.Serialize(result.Bundle!)));
        }

        Assert.True(bundles.Count >= 130);
        var counts = new List<Dictionary<string, int>>();
        for (int pass = 0; pass < 2; pass++)
        {
            foreach ((string file, byte[] json) in bundles)
            {
                using var content = new ByteArrayContent(json);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/fhir+json");
                using HttpResponseMessage response = await http.PostAsync(string.Empty, content);
                string body = await response.Content.ReadAsStringAsync();
                Assert.True(response.IsSuccessStatusCode, $"{file} (pass {pass + 1}): {(int)response.StatusCode} {body[..Math.Min(body.Length, 400)]}");
            }

            var count = new Dictionary<string, int>();
            foreach (string type in Types)
            {
                using JsonDocument total = JsonDocument.Parse(await http.GetStringAsync($"{type}?_summary=count"));
                count[type] = total.RootElement.GetProperty("total").GetInt32();
            }

            counts.Add(count);
        }

        Assert.Equal(counts[0], counts[1]);
        Assert.True(counts[0]["Observation"] > 50 && counts[0]["Patient"] > 10);

        // Twenty-odd golden messages about one patient (MRN RX20001, NHS number 9434765919): one Patient, upserted.
        using JsonDocument patients = JsonDocument.Parse(await http.GetStringAsync(
            "Patient?identifier=" + Uri.EscapeDataString("https://fhir.nhs.uk/Id/nhs-number") + "|9434765919"));
        Assert.Single(patients.RootElement.GetProperty("entry").EnumerateArray());
    }
}
