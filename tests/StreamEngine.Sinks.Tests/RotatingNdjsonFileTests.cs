using System.Text;
using StreamEngine.Sinks.Ndjson;

namespace StreamEngine.Sinks.Tests;

public sealed class RotatingNdjsonFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("se-rotate-").FullName;
    private DateTimeOffset _now = new(2026, 11, 30, 8, 0, 0, TimeSpan.Zero);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Line(int n) => Encoding.UTF8.GetBytes($$"""{"resourceType":"Bundle","meta":{"source":"streamengine:s#{{n}}"},"pad":"{{new string('x', 200)}}"}""");

    [Fact]
    public void RotatesBySize_FilesSortByTime_AndAPositionFindsEveryLaterLineAcrossFiles()
    {
        var positions = new Dictionary<int, long>();
        using (var output = new RotatingNdjsonFile(_dir, "sink.pas", new NdjsonRotation(1024, null), () => _now))
        {
            Assert.Empty(output.Open(0));
            for (int n = 1; n <= 20; n++)
            {
                output.Append(Line(n));
                _now = _now.AddMilliseconds(5);
                output.Flush(durable: n % 2 == 0);
                positions[n] = output.Position;
            }

            Assert.True(output.Files().Count >= 4, string.Join(",", output.Files()));
            Assert.Equal(output.Files().Order(StringComparer.Ordinal), output.Files());
            Assert.Equal(output.Files().Sum(f => new FileInfo(f).Length), output.Position);
        }

        // A restart from the position recorded after line 7 finds lines 8..20, in whichever file they are.
        using var reopened = new RotatingNdjsonFile(_dir, "sink.pas", new NdjsonRotation(1024, null), () => _now);
        IReadOnlyList<string> after = reopened.Open(positions[7]);
        Assert.Equal(Enumerable.Range(8, 13).Select(n => $"streamengine:s#{n}"), after);
        Assert.Equal(positions[20], reopened.Position);
    }

    [Fact]
    public void ManyLinesBetweenFlushes_NoFileGrowsPastItsSize_AndEveryLineIsKeptInOrder()
    {
        // A busy sink appends many lines per flush: the size is held at each line, not only at the flush (a file grew to
        // 5.8 times its limit under catch-up).
        using (var output = new RotatingNdjsonFile(_dir, "sink.pas", new NdjsonRotation(1024, null), () => _now))
        {
            output.Open(0);
            for (int n = 1; n <= 30; n++)
            {
                output.Append(Line(n));
                _now = _now.AddMilliseconds(1);
            }

            output.Flush(durable: true);
            Assert.True(output.Files().Count >= 8, string.Join(",", output.Files()));
            Assert.All(output.Files(), f => Assert.InRange(new FileInfo(f).Length, 1, 1024));
            Assert.Equal(output.Files().Sum(f => new FileInfo(f).Length), output.Position);
        }

        string[] lines = [.. Directory.GetFiles(_dir, "sink.pas.*.ndjson").Order(StringComparer.Ordinal).SelectMany(File.ReadAllLines)];
        Assert.Equal(Enumerable.Range(1, 30).Select(n => $"streamengine:s#{n}"), lines.Select(l => NdjsonFileSink.ReadMetaSource(Encoding.UTF8.GetBytes(l))));
    }

    [Fact]
    public void ALineLongerThanTheSize_GetsAFileOfItsOwn()
    {
        byte[] big = Encoding.UTF8.GetBytes($$"""{"resourceType":"Bundle","meta":{"source":"streamengine:s#2"},"pad":"{{new string('y', 3000)}}"}""");
        using var output = new RotatingNdjsonFile(_dir, "sink.pas", new NdjsonRotation(1024, null), () => _now);
        output.Open(0);
        output.Append(Line(1));
        _now = _now.AddMilliseconds(1);
        output.Append(big);
        _now = _now.AddMilliseconds(1);
        output.Append(Line(3));
        output.Flush(durable: true);
        Assert.Equal([1, 1, 1], output.Files().Select(f => File.ReadAllLines(f).Length));
    }

    [Fact]
    public void RotatesByAge_RepairsATornLine_AndCountsAFileFromBeforeRotationFirst()
    {
        File.WriteAllBytes(Path.Combine(_dir, "sink.pas.ndjson"), [.. Line(1), (byte)'\n']); // written before rotation was on
        long legacy = new FileInfo(Path.Combine(_dir, "sink.pas.ndjson")).Length;
        using (var output = new RotatingNdjsonFile(_dir, "sink.pas", new NdjsonRotation(null, TimeSpan.FromMinutes(10)), () => _now))
        {
            Assert.Empty(output.Open(legacy));
            output.Append(Line(2));
            output.Flush(durable: true); // the legacy file is ten minutes old by the clock only now
            _now = _now.AddMinutes(11);
            output.Append(Line(3));
            output.Flush(durable: true); // rotated
            output.Append(Line(4));
            output.Flush(durable: true);
            Assert.Equal(2, output.Files().Count);
        }

        string newest = Directory.GetFiles(_dir, "sink.pas.2*.ndjson").Single();
        File.AppendAllText(newest, "{\"resourceType\":\"Bun"); // a torn write from a crash
        using var reopened = new RotatingNdjsonFile(_dir, "sink.pas", new NdjsonRotation(null, TimeSpan.FromMinutes(10)), () => _now);
        Assert.Equal(["streamengine:s#2", "streamengine:s#3", "streamengine:s#4"], reopened.Open(legacy));
        Assert.EndsWith("\n", File.ReadAllText(newest), StringComparison.Ordinal);
    }

    [Fact]
    public void MovingOlderFilesAway_KeepsEveryPositionInTheFilesThatRemain()
    {
        var positions = new Dictionary<int, long>();
        using (var output = new RotatingNdjsonFile(_dir, "sink.pas", new NdjsonRotation(1024, null), () => _now))
        {
            output.Open(0);
            for (int n = 1; n <= 20; n++)
            {
                output.Append(Line(n));
                _now = _now.AddMilliseconds(5);
                output.Flush(durable: true);
                positions[n] = output.Position;
            }
        }

        // An operator archives the two oldest files; the sink's recorded position (after line 15) is in a later one.
        string[] files = [.. Directory.GetFiles(_dir, "sink.pas.2*.ndjson").Order(StringComparer.Ordinal)];
        Assert.True(files.Length >= 4, string.Join(",", files));
        File.Delete(files[0]);
        File.Move(files[1], Path.Combine(_dir, Path.GetFileName(files[1]) + ".archived"));

        using var reopened = new RotatingNdjsonFile(_dir, "sink.pas", new NdjsonRotation(1024, null), () => _now);
        Assert.Equal(Enumerable.Range(16, 5).Select(n => $"streamengine:s#{n}"), reopened.Open(positions[15]));
        Assert.Equal(positions[20], reopened.Position);
        reopened.Append(Line(21));
        reopened.Flush(durable: true);
        Assert.Equal(positions[20] + Line(21).Length + 1, reopened.Position);
    }
}
