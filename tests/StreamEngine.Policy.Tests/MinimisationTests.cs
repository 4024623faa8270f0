using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Hl7.Fhir.Model;
using StreamEngine.Fhir;
using StreamEngine.Hl7v2;
using StreamEngine.TestKit;

namespace StreamEngine.Policy.Tests;

public sealed class MinimisationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("se-policy-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Shipped([CallerFilePath] string path = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", "..", "config", "policies", "secondary-use.json"));

    // The shipped example policy, with a key of the test's own beside it.
    private MinimisationPolicy ShippedPolicy(byte keyByte = 7)
    {
        File.Copy(Shipped(), Path.Combine(_dir, "secondary-use.json"), overwrite: true);
        File.WriteAllBytes(Path.Combine(_dir, "secondary-use.hmac"), Enumerable.Repeat(keyByte, 32).ToArray());
        return PolicyLoader.Load(Path.Combine(_dir, "secondary-use.json"));
    }

    private static IEnumerable<(string Name, byte[] Bytes)> Corpus([CallerFilePath] string path = "")
    {
        string golden = Path.Combine(Path.GetDirectoryName(path)!, "..", "StreamEngine.Fhir.Tests", "TestData");
        foreach (string file in Directory.GetFiles(golden, "*.hl7", SearchOption.AllDirectories)
                     .Concat(Directory.GetFiles(TestData.PathOf("fhir-converter", "hl7v2"), "*.hl7"))
                     .Concat(Directory.GetFiles(TestData.PathOf("nhs"), "*.hl7"))
                     .Order(StringComparer.Ordinal))
        {
            yield return (Path.GetFileName(file), File.ReadAllBytes(file));
        }
    }

    [Fact]
    public void OverTheWholeCorpus_NothingOutsideTheAllowList_AndNoNhsNumberNorItsPlainHash_LeavesTheEngine()
    {
        MinimisationPolicy policy = ShippedPolicy();
        var minimiser = new BundleMinimiser(policy);
        var mapper = new MessageMapper();
        int bundles = 0;
        foreach ((string name, byte[] bytes) in Corpus())
        {
            Assert.True(Hl7Parser.TryParse(bytes, out Hl7Message? message, out _), name);
            MappingResult result = mapper.Map(message!);
            Assert.True(result.Succeeded, name);
            HashSet<string> nhsNumbers = NhsNumbers(result.Bundle!);
            if (!minimiser.Apply(result.Bundle!))
            {
                continue;
            }

            bundles++;
            string json = Encoding.UTF8.GetString(FhirJson.Serialize(result.Bundle!));
            foreach (string nhs in nhsNumbers)
            {
                Assert.DoesNotContain(nhs, json, StringComparison.Ordinal);
                Assert.DoesNotContain(Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(nhs))), json, StringComparison.Ordinal);
                Assert.DoesNotContain(Convert.ToHexStringLower(SHA1.HashData(Encoding.ASCII.GetBytes(nhs))), json, StringComparison.Ordinal);
                Assert.DoesNotContain(Convert.ToHexString(SHA256.HashData(Encoding.ASCII.GetBytes(nhs))), json, StringComparison.Ordinal);
            }

            using JsonDocument document = JsonDocument.Parse(json);
            var fullUrls = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonElement entry in document.RootElement.GetProperty("entry").EnumerateArray())
            {
                fullUrls.Add(entry.GetProperty("fullUrl").GetString()!);
                JsonElement resource = entry.GetProperty("resource");
                string type = resource.GetProperty("resourceType").GetString()!;
                Assert.True(policy.Resources.ContainsKey(type), $"{name}: {type} is not in the policy");
                AllowedOnly(policy.Resources[type], resource, type, name, root: true);
                Assert.Contains(resource.GetProperty("meta").GetProperty("tag").EnumerateArray(), t =>
                    t.GetProperty("system").GetString() == MinimisationPolicy.LabelSystem && t.GetProperty("code").GetString() == "secondary-use");
            }

            // Every reference inside the bundle resolves to one of its (re-derived) entries.
            foreach (string reference in References(document.RootElement))
            {
                Assert.True(!reference.StartsWith("urn:uuid:", StringComparison.Ordinal) || fullUrls.Contains(reference), $"{name}: dangling {reference}");
            }
        }

        Assert.True(bundles > 100, $"only {bundles} bundles had anything for the sink");
    }

    [Fact]
    public void OneMinimiser_SharedByParallelLanes_GivesEveryBundleWhatItGivesItAlone()
    {
        var mapper = new MessageMapper();
        var messages = Corpus().Take(40).ToList();
        string Minimised(BundleMinimiser minimiser, byte[] bytes)
        {
            Assert.True(Hl7Parser.TryParse(bytes, out Hl7Message? message, out _));
            Bundle bundle = mapper.Map(message!).Bundle!;
            return minimiser.Apply(bundle) ? Encoding.UTF8.GetString(FhirJson.Serialize(bundle)) : "(filtered)";
        }

        using var alone = new BundleMinimiser(ShippedPolicy());
        string[] expected = [.. messages.Select(m => Minimised(alone, m.Bytes))];
        using var shared = new BundleMinimiser(ShippedPolicy());
        string[] parallel = new string[messages.Count * 10];
        Parallel.For(0, parallel.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => parallel[i] = Minimised(shared, messages[i % messages.Count].Bytes));
        for (int i = 0; i < parallel.Length; i++)
        {
            Assert.Equal(expected[i % messages.Count], parallel[i]);
        }
    }

    [Fact]
    public void Pseudonyms_AreStablePerKey_DifferAcrossKeys_AndFollowIntoTheConditionalUrls()
    {
        Bundle Map()
        {
            Assert.True(Hl7Parser.TryParse(TestData.Message(@"MSH|^~\&|PAS|RX1|X|Y|20261201||ADT^A28|K1|P|2.4",
                "PID|1||9434765919^^^NHS^NH||X^Y||19820415|F|||1 A ST^^LEEDS^^LS1 4AP"), out Hl7Message? m, out _));
            return new MessageMapper().Map(m!).Bundle!;
        }

        Bundle a = Map();
        Bundle b = Map();
        Bundle c = Map();
        new BundleMinimiser(ShippedPolicy(1)).Apply(a);
        new BundleMinimiser(ShippedPolicy(1)).Apply(b);
        new BundleMinimiser(ShippedPolicy(2)).Apply(c);
        Identifier pa = ((Patient)a.Entry[0].Resource).Identifier.Single();
        Identifier pc = ((Patient)c.Entry[0].Resource).Identifier.Single();
        Assert.Equal("https://fhir.example-trust.nhs.uk/research/Id/nhs-pseudonym", pa.System);
        Assert.Equal(pa.Value, ((Patient)b.Entry[0].Resource).Identifier.Single().Value);
        Assert.NotEqual(pa.Value, pc.Value);
        Assert.Equal(64, pa.Value.Length);
        Assert.EndsWith("|" + pa.Value, a.Entry[0].Request.Url, StringComparison.Ordinal); // the upsert names the pseudonym
        Assert.Equal(a.Entry[0].FullUrl, b.Entry[0].FullUrl);
        Assert.NotEqual(a.Entry[0].FullUrl, c.Entry[0].FullUrl);
        var patient = (Patient)a.Entry[0].Resource;
        Assert.Equal("1982", patient.BirthDate);
        Assert.Equal("LS1", patient.Address.Single().PostalCode);
        Assert.Empty(patient.Name);
        Assert.Empty(patient.Identifier.Single().Extension);
    }

    [Fact]
    public void AnNhsNumberInAnotherField_OrInvalid_IsPseudonymisedToo_AndMessageIdentityIsNotLinkable()
    {
        Assert.True(Hl7Parser.TryParse(TestData.Message(@"MSH|^~\&|PAS|RX1|X|Y|20261201||ADT^A28|K2|P|2.4",
            "PID|1|9434765919^^^PAS^PI|M1^^^R0B^MR~9990000019^^^NHS^NH||X^Y||19820415|F"), out Hl7Message? m, out _));
        Bundle bundle = new MessageMapper().Map(m!).Bundle!;
        new BundleMinimiser(ShippedPolicy()).Apply(bundle);
        string json = Encoding.UTF8.GetString(FhirJson.Serialize(bundle));
        Assert.DoesNotContain("9434765919", json, StringComparison.Ordinal); // PID-2, another system
        Assert.DoesNotContain("9990000019", json, StringComparison.Ordinal); // invalid check digit, typed NH
        Assert.DoesNotContain("K2", json, StringComparison.Ordinal); // MSH-10
    }

    [Theory]
    [InlineData("""{ "Patient": ["Patient.identifier", "Patient.shoeSize"] }""", "resources.Patient[1]")]
    [InlineData("""{ "Patient": ["Patient.gender"] }""", "resources.Patient")]
    [InlineData("""{ "Pateint": ["Pateint.identifier"] }""", "resources.Pateint")]
    [InlineData("""{ "Patient": ["Encounter.identifier"] }""", "resources.Patient[0]")]
    [InlineData("""{ "Patient": ["Patient.identifier", "Patient.name.family.x"] }""", "resources.Patient[1]")]
    public void BadPolicy_FailsNamingTheFileAndTheKey(string resources, string key)
    {
        File.WriteAllBytes(Path.Combine(_dir, "k.hmac"), new byte[32]);
        string file = Path.Combine(_dir, "bad.json");
        File.WriteAllText(file, $$"""{ "name": "p", "version": "1", "keyFile": "k.hmac", "resources": {{resources}} }""");
        var e = Assert.Throws<PolicyException>(() => PolicyLoader.Load(file));
        Assert.Equal(key, e.Key);
        Assert.StartsWith("Policy bad.json: " + key, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void APolicyWithSeveralProblems_NamesEveryOne()
    {
        // Told one at a time, each mistake cost a restart.
        string file = Path.Combine(_dir, "several.json");
        File.WriteAllText(file, """
            { "name": "p", "version": "1", "keyFile": "absent.hmac", "extra": 1,
              "resources": { "Patient": ["Patient.nmae"], "Widget": ["Widget.id"] },
              "transforms": { "birthDate": "decade", "postcode": "full" } }
            """);
        var e = Assert.Throws<PolicyException>(() => PolicyLoader.Load(file));
        string[] keys = [.. e.Problems.Select(p => p.Split(": ")[1])];
        Assert.Equal(["extra", "keyFile", "resources.Patient[0]", "resources.Patient", "resources.Widget", "transforms.birthDate", "transforms.postcode"], keys);
        Assert.All(e.Problems, p => Assert.StartsWith("Policy several.json: ", p, StringComparison.Ordinal));
        Assert.Equal("extra", e.Key);
    }

    [Fact]
    public void APolicyThatIsNotJson_OrCannotBeRead_FailsNamingTheFileAndTheLine()
    {
        string file = Path.Combine(_dir, "broken.json");
        File.WriteAllText(file, "{\n  \"name\": \"p\",\n  oops\n}");
        var e = Assert.Throws<PolicyException>(() => PolicyLoader.Load(file));
        Assert.Equal("(line 3)", e.Key);
        Assert.StartsWith("Policy broken.json: (line 3)", e.Message, StringComparison.Ordinal);
        Assert.Equal("(file)", Assert.Throws<PolicyException>(() => PolicyLoader.Load(Path.Combine(_dir, "absent.json"))).Key);
    }

    [Fact]
    public void MissingKeyFile_FailsNamingIt()
    {
        string file = Path.Combine(_dir, "p.json");
        File.WriteAllText(file, """{ "name": "p", "version": "1", "keyFile": "absent.hmac", "resources": { "Patient": ["Patient.identifier"] } }""");
        Assert.Equal("keyFile", Assert.Throws<PolicyException>(() => PolicyLoader.Load(file)).Key);
    }

    [Fact]
    public void TheAllowListCheck_CanFail()
    {
        MinimisationPolicy policy = ShippedPolicy();
        using JsonDocument patient = JsonDocument.Parse("""{ "resourceType": "Patient", "identifier": [ { "value": "1" } ], "name": [ { "family": "X" } ] }""");
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AllowedOnly(policy.Resources["Patient"], patient.RootElement, "Patient", "t", root: true));
    }

    private static HashSet<string> NhsNumbers(Bundle bundle) =>
        bundle.Entry.Select(e => e.Resource).OfType<Patient>().SelectMany(p => p.Identifier)
            .Where(i => i.System == NhsNumber.System).Select(i => i.Value!).ToHashSet(StringComparer.Ordinal);

    // Every element path of the resource (array indexes dropped) must be kept by the policy tree.
    private static void AllowedOnly(PolicyPath allowed, JsonElement element, string path, string file, bool root)
    {
        foreach (JsonProperty property in element.EnumerateObject())
        {
            string name = property.Name.TrimStart('_');
            if (root && name is "resourceType" or "id" or "meta")
            {
                continue;
            }

            string elementName = ChoiceBase(allowed, name);
            PolicyPath? child = allowed.Child(elementName);
            Assert.True(child is not null, $"{file}: {path}.{name} left the engine but is not in the policy");
            if (child!.All)
            {
                continue;
            }

            foreach (JsonElement value in property.Value.ValueKind == JsonValueKind.Array ? property.Value.EnumerateArray() : new[] { property.Value }.AsEnumerable())
            {
                if (value.ValueKind == JsonValueKind.Object)
                {
                    AllowedOnly(child, value, path + "." + name, file, root: false);
                }
            }
        }
    }

    // valueQuantity -> value when the policy names value[x].
    private static string ChoiceBase(PolicyPath allowed, string name)
    {
        if (allowed.Child(name) is not null)
        {
            return name;
        }

        for (int i = name.Length - 1; i > 0; i--)
        {
            if (char.IsUpper(name[i]) && allowed.Child(name[..i]) is not null)
            {
                return name[..i];
            }
        }

        return name;
    }

    private static IEnumerable<string> References(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (JsonProperty p in element.EnumerateObject())
                {
                    if (p.Name == "reference" && p.Value.ValueKind == JsonValueKind.String)
                    {
                        yield return p.Value.GetString()!;
                    }

                    foreach (string r in References(p.Value))
                    {
                        yield return r;
                    }
                }

                break;
            case JsonValueKind.Array:
                foreach (JsonElement item in element.EnumerateArray())
                {
                    foreach (string r in References(item))
                    {
                        yield return r;
                    }
                }

                break;
        }
    }
}
