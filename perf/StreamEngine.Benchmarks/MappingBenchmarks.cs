using BenchmarkDotNet.Attributes;
using Hl7.Fhir.Model;
using StreamEngine.Fhir;
using StreamEngine.Hl7v2;

namespace StreamEngine.Benchmarks;

/// <summary>
/// What a sink spends per message: parse, map to a FHIR transaction Bundle, serialise it to UTF-8 JSON (the NDJSON
/// line or the HTTP body), for ADT^A01 and for ORU^R01 with 20 OBX; against the naive baseline (string.Split on
/// every access, the same bundle with the same POCOs and serialiser). Allocations per message come from the memory
/// diagnoser. Run: <c>dotnet run -c Release --project perf/StreamEngine.Benchmarks -- --filter '*MappingBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
public class MappingBenchmarks
{
    private readonly MessageMapper _mapper = new();
    private readonly NaiveMapper _naive = new();
    private byte[] _adt = [];
    private byte[] _oru = [];
    private byte[] _nhs = [];
    private Bundle _adtBundle = new();

    [GlobalSetup]
    public void Setup()
    {
        _adt = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "bench", "adt_a01.hl7"));
        _oru = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "bench", "oru_r01_20obx.hl7"));
        _nhs = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "bench", "nhs-admit-full.hl7"));

        Hl7Parser.TryParse(_adt, out Hl7Message? adt, out _);
        _adtBundle = _mapper.Map(adt!).Bundle!;

        // The baseline must build the same bundle, or the comparison means nothing.
        foreach (byte[] message in new[] { _adt, _oru })
        {
            Hl7Parser.TryParse(message, out Hl7Message? parsed, out _);
            string ours = string.Join(",", _mapper.Map(parsed!).Bundle!.Entry.Select(e => e.Resource!.TypeName));
            string naive = string.Join(",", _naive.Map(message).Entry.Select(e => e.Resource!.TypeName));
            if (ours != naive)
            {
                throw new InvalidOperationException($"The baseline builds a different bundle: ours {ours}, naive {naive}");
            }
        }
    }

    [Benchmark]
    public int AdtA01_ParseMapSerialize() => Ours(_adt);

    [Benchmark]
    public int AdtA01_ParseMap()
    {
        Hl7Parser.TryParse(_adt, out Hl7Message? message, out _);
        return _mapper.Map(message!).Bundle!.Entry.Count;
    }

    [Benchmark]
    public int AdtA01_SerializeOnly() => FhirJson.Serialize(_adtBundle).Length;

    /// <summary>A fuller English ADT^A01 (PD1, NK1, PV1 with visit, location chain and participants, PV2, AL1, DG1, PR1, ZU1): 11 entries.</summary>
    [Benchmark]
    public int AdtA01Nhs_ParseMapSerialize() => Ours(_nhs);

    [Benchmark]
    public int AdtA01_Naive() => FhirJson.SerializeWithFirely(_naive.Map(_adt)).Length;

    [Benchmark]
    public int OruR01_20Obx_ParseMapSerialize() => Ours(_oru);

    [Benchmark]
    public int OruR01_20Obx_Naive() => FhirJson.SerializeWithFirely(_naive.Map(_oru)).Length;

    private int Ours(byte[] bytes)
    {
        Hl7Parser.TryParse(bytes, out Hl7Message? message, out _);
        Bundle bundle = _mapper.Map(message!).Bundle!;
        return FhirJson.Serialize(bundle).Length;
    }
}
