using BenchmarkDotNet.Attributes;
using StreamEngine.Mllp;

namespace StreamEngine.Benchmarks;

/// <summary>
/// Cutting a TCP byte stream into MLLP frames: 1,000 frames of a 1.1 KB ADT^A01, fed in 4 KiB reads (what a socket
/// read gives under load). The baseline only finds each end block (one vectorised scan, nothing copied); the decoder
/// also watches for a start block inside a frame (a sender that gave up on a frame and began again) and copies each
/// payload out. Run: <c>dotnet run -c Release --project perf/StreamEngine.Benchmarks -- --filter '*MllpDecoderBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
public class MllpDecoderBenchmarks
{
    private const int Frames = 1000;
    private byte[] _stream = [];
    private readonly List<byte[]> _frames = new(Frames);

    [GlobalSetup]
    public void Setup()
    {
        byte[] message = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "bench", "nhs-admit-full.hl7"));
        _stream = [.. Enumerable.Range(0, Frames).SelectMany(_ => MllpFrame.Wrap(message))];
    }

    [Benchmark(Baseline = true)]
    public int ScanForEndBlocksOnly()
    {
        int found = 0;
        for (int offset = 0; offset < _stream.Length; offset += 4096)
        {
            ReadOnlySpan<byte> read = _stream.AsSpan(offset, Math.Min(4096, _stream.Length - offset));
            int at;
            while ((at = read.IndexOf(MllpDecoder.EndBlock)) >= 0)
            {
                found++;
                read = read[(at + 1)..];
            }
        }

        return found;
    }

    [Benchmark]
    public int Decode()
    {
        var decoder = new MllpDecoder(1 << 20);
        _frames.Clear();
        for (int offset = 0; offset < _stream.Length; offset += 4096)
        {
            decoder.Feed(_stream.AsSpan(offset, Math.Min(4096, _stream.Length - offset)), _frames);
        }

        return _frames.Count;
    }
}
