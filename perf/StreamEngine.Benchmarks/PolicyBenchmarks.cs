using BenchmarkDotNet.Attributes;
using Hl7.Fhir.Model;
using StreamEngine.Fhir;
using StreamEngine.Hl7v2;
using StreamEngine.Policy;

namespace StreamEngine.Benchmarks;

/// <summary>
/// Applying a minimisation policy (the shipped config/policies/secondary-use.json, with a fixed test key) to ADT
/// bundles. The policy mutates the bundle it is given, so each call copies a mapped template first; the copy alone is
/// measured too, and the policy's own cost is the difference.
/// Run: <c>dotnet run -c Release --project perf/StreamEngine.Benchmarks -- --filter '*PolicyBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
public class PolicyBenchmarks
{
    private Bundle _template = new();
    private BundleMinimiser _minimiser = null!;

    [GlobalSetup]
    public void Setup()
    {
        string dir = Directory.CreateTempSubdirectory("se-policy-bench-").FullName;
        File.Copy(Path.Combine(AppContext.BaseDirectory, "bench", "secondary-use.json"), Path.Combine(dir, "secondary-use.json"));
        File.WriteAllBytes(Path.Combine(dir, "secondary-use.hmac"), Enumerable.Repeat((byte)7, 32).ToArray());
        _minimiser = new BundleMinimiser(PolicyLoader.Load(Path.Combine(dir, "secondary-use.json")));
        Hl7Parser.TryParse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "bench", "nhs-admit-full.hl7")), out Hl7Message? message, out _);
        _template = new MessageMapper().Map(message!).Bundle!;
    }

    [Benchmark(Baseline = true)]
    public int CopyOnly() => ((Bundle)_template.DeepCopy()).Entry.Count;

    [Benchmark]
    public int CopyAndApplyPolicy()
    {
        var bundle = (Bundle)_template.DeepCopy();
        _minimiser.Apply(bundle);
        return bundle.Entry.Count;
    }
}
