using System.Numerics;
using System.Runtime.Intrinsics;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using StreamEngine.Hl7v2;
using StreamEngine.Hl7v2.Types;

namespace StreamEngine.Benchmarks;

/// <summary>
/// The HL7 v2 parser against the baselines issue #3 names, on the three benchmark messages, in one run:
/// string.Split to fields and to subcomponents (the naive parser), a scalar delimiter count, and a Vector256
/// delimiter scan (the one-pass ceiling: any tokeniser must at least look at every byte once).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RuntimeMoniker.Net10_0, launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class Hl7ParseBenchmarks
{
    private static readonly char[] Terminators = ['\r', '\n'];
    private byte[] _bytes = [];
    private Hl7Message _pooled = new();
    private (int Segment, int Field)[] _twenty = [];
    private Hl7AckBuilder _acks = new(DateTimeOffset.UnixEpoch);

    /// <summary>Which benchmark message.</summary>
    [Params("adt_a01", "oru_r01_20obx", "adt_a08_v24_z")]
    public string Message { get; set; } = "adt_a01";

    /// <summary>Loads the message and picks the 20 fields read by the string benchmarks (the first 20 non-empty ones after MSH).</summary>
    [GlobalSetup]
    public void Setup()
    {
        _bytes = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "bench", Message + ".hl7"));
        _pooled = new Hl7Message();
        Hl7Parser.TryParse(_bytes, _pooled, out _);
        var picks = new List<(int, int)>();
        for (int s = 1; s < _pooled.SegmentCount && picks.Count < 20; s++)
        {
            for (int f = 1; f <= _pooled[s].FieldCount && picks.Count < 20; f++)
            {
                if (!_pooled[s].Field(f).IsEmpty)
                {
                    picks.Add((s, f));
                }
            }
        }

        _twenty = [.. picks];
    }

    /// <summary>Baseline: string.Split down to fields.</summary>
    [Benchmark(Baseline = true)]
    public int StringSplit_Fields()
    {
        int n = 0;
        foreach (string segment in Encoding.ASCII.GetString(_bytes).Split(Terminators, StringSplitOptions.RemoveEmptyEntries))
        {
            n += segment.Split('|').Length;
        }

        return n;
    }

    /// <summary>Baseline: string.Split down to subcomponents.</summary>
    [Benchmark]
    public int StringSplit_Subcomponents()
    {
        int n = 0;
        foreach (string segment in Encoding.ASCII.GetString(_bytes).Split(Terminators, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (string field in segment.Split('|'))
            {
                foreach (string repetition in field.Split('~'))
                {
                    foreach (string component in repetition.Split('^'))
                    {
                        n += component.Split('&').Length;
                    }
                }
            }
        }

        return n;
    }

    /// <summary>Baseline: a scalar loop that only counts delimiters.</summary>
    [Benchmark]
    public int ScalarDelimiterCount()
    {
        int n = 0;
        foreach (byte b in _bytes)
        {
            if (b is (byte)'|' or (byte)'^' or (byte)'~' or (byte)'\\' or (byte)'&' or (byte)'\r' or (byte)'\n')
            {
                n++;
            }
        }

        return n;
    }

    /// <summary>Ceiling: a Vector256 scan counting field separators and terminators (what a tokeniser must at least do).</summary>
    [Benchmark]
    public int Vector256DelimiterScan()
    {
        ReadOnlySpan<byte> span = _bytes;
        Vector256<byte> fs = Vector256.Create((byte)'|');
        Vector256<byte> cr = Vector256.Create((byte)'\r');
        Vector256<byte> lf = Vector256.Create((byte)'\n');
        int n = 0;
        int i = 0;
        for (; i <= span.Length - Vector256<byte>.Count; i += Vector256<byte>.Count)
        {
            Vector256<byte> v = Vector256.Create(span.Slice(i, Vector256<byte>.Count));
            n += BitOperations.PopCount((Vector256.Equals(v, fs) | Vector256.Equals(v, cr) | Vector256.Equals(v, lf)).ExtractMostSignificantBits());
        }

        for (; i < span.Length; i++)
        {
            n += span[i] is (byte)'|' or (byte)'\r' or (byte)'\n' ? 1 : 0;
        }

        return n;
    }

    /// <summary>Index-only parse into a pooled message (no per-message allocation).</summary>
    [Benchmark]
    public int Parse_IndexOnly()
    {
        Hl7Parser.TryParse(_bytes, _pooled, out _);
        return _pooled.SegmentCount;
    }

    /// <summary>Parse, then read 20 fields as strings (escapes decoded).</summary>
    [Benchmark]
    public int Parse_20FieldsAsStrings()
    {
        Hl7Parser.TryParse(_bytes, _pooled, out _);
        int n = 0;
        foreach ((int s, int f) in _twenty)
        {
            n += _pooled[s].Field(f).ToString().Length;
        }

        return n;
    }

    /// <summary>Baseline for the above: string.Split to fields, then the same 20 fields.</summary>
    [Benchmark]
    public int StringSplit_20FieldsAsStrings()
    {
        string[] segments = Encoding.ASCII.GetString(_bytes).Split(Terminators, StringSplitOptions.RemoveEmptyEntries);
        int n = 0;
        foreach ((int s, int f) in _twenty)
        {
            string[] fields = segments[s].Split('|');
            n += f < fields.Length ? fields[f].Length : 0;
        }

        return n;
    }

    /// <summary>Parse, then typed reads of PID and PV1 (CX, XPN, TS, XAD, PL).</summary>
    [Benchmark]
    public int Parse_TypedPidPv1()
    {
        Hl7Parser.TryParse(_bytes, _pooled, out _);
        int n = 0;
        if (_pooled.FindSegment("PID") is { } pid)
        {
            Hl7Value ids = pid.Field(3);
            for (int r = 1; r <= ids.RepetitionCount; r++)
            {
                n += CX.From(ids.Repetition(r)).Id.Length;
            }

            n += XPN.From(pid.Field(5).Repetition(1)).FamilyName.Length;
            n += Hl7DateTime.TryFrom(pid.Field(7), out Hl7DateTime? birth) ? birth!.Year : 0;
            n += pid.Field(8).ToString().Length;
            n += XAD.From(pid.Field(11).Repetition(1)).PostalCode.Length;
        }

        if (_pooled.FindSegment("PV1") is { } pv1)
        {
            n += PL.From(pv1.Field(3)).PointOfCare.Length;
            n += CX.From(pv1.Field(19).Repetition(1)).Id.Length;
            n += Hl7DateTime.TryFrom(pv1.Field(44), out Hl7DateTime? admit) ? admit!.Day : 0;
        }

        return n;
    }

    /// <summary>Build the AA acknowledgment of a parsed message.</summary>
    [Benchmark]
    public int AckBuild() => _acks.Build(_pooled, "AA", null, null, DateTimeOffset.UnixEpoch).Length;

    /// <summary>Re-encode an unmodified message (byte-identical write).</summary>
    [Benchmark]
    public int Write_Unmodified() => new Hl7MessageEditor(_pooled).ToBytes().Length;
}
