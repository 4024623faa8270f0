using BenchmarkDotNet.Attributes;
using StreamEngine.Fhir;
using StreamEngine.Hl7v2;

namespace StreamEngine.Benchmarks;

/// <summary>
/// What a sink spends per message: parse, map ADT^A01 to a FHIR transaction Bundle, serialise it to UTF-8 JSON
/// (the NDJSON line). Allocations per message are reported by the memory diagnoser.
/// </summary>
[MemoryDiagnoser]
public class MappingBenchmarks
{
    private readonly MessageMapper _mapper = new();
    private byte[] _bytes = [];

    [GlobalSetup]
    public void Setup() => _bytes = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "bench", "adt_a01.hl7"));

    [Benchmark]
    public int AdtA01_ParseMapSerialize()
    {
        Hl7Parser.TryParse(_bytes, out Hl7Message? message, out _);
        MappingResult result = _mapper.Map(message!);
        return FhirJson.Serialize(result.Bundle!).Length;
    }

    [Benchmark]
    public int AdtA01_ParseMap()
    {
        Hl7Parser.TryParse(_bytes, out Hl7Message? message, out _);
        return _mapper.Map(message!).Bundle!.Entry.Count;
    }
}
