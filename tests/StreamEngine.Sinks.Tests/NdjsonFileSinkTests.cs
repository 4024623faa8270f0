using System.Text;
using StreamEngine.Sinks.Ndjson;

namespace StreamEngine.Sinks.Tests;

public sealed class NdjsonFileSinkTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("se-ndjson-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Line(int seq) => Encoding.UTF8.GetBytes($"{{\"resourceType\":\"Bundle\",\"meta\":{{\"source\":\"s#{seq}\"}},\"type\":\"transaction\"}}");

    [Fact]
    public void Open_NewFile_CreatesFoldersAndHasNoLastId()
    {
        string path = Path.Combine(_dir, "a", "b", "out.ndjson");
        using var sink = new NdjsonFileSink(path);
        Assert.Null(sink.Open());
        Assert.True(File.Exists(path));
    }

    [Fact]
    public void Reopen_ReportsTheLastLinesId_AndAppends()
    {
        string path = Path.Combine(_dir, "out.ndjson");
        using (var sink = new NdjsonFileSink(path))
        {
            sink.Open();
            sink.Append(Line(1));
            sink.Append(Line(2));
            sink.Flush(durable: true);
        }

        using (var sink = new NdjsonFileSink(path))
        {
            Assert.Equal("s#2", sink.Open());
            sink.Append(Line(3));
        }

        Assert.Equal(3, File.ReadAllLines(path).Length);
    }

    [Fact]
    public void Open_TornLastLine_IsTruncatedToTheLastCompleteLine()
    {
        string path = Path.Combine(_dir, "out.ndjson");
        File.WriteAllBytes(path, [.. Line(1), (byte)'\n', .. Line(2), (byte)'\n', .. Line(3).AsSpan(0, 20)]);
        using (var sink = new NdjsonFileSink(path))
        {
            Assert.Equal("s#2", sink.Open());
            sink.Append(Line(3));
        }

        string[] lines = File.ReadAllLines(path);
        Assert.Equal(3, lines.Length);
        Assert.Equal("s#3", NdjsonFileSink.ReadMetaSource(Encoding.UTF8.GetBytes(lines[2])));
    }

    [Fact]
    public void Open_OnlyATornLine_StartsEmpty()
    {
        string path = Path.Combine(_dir, "out.ndjson");
        File.WriteAllBytes(path, Line(1).AsSpan(0, 10).ToArray());
        using var sink = new NdjsonFileSink(path);
        Assert.Null(sink.Open());
        Assert.Equal(0, new FileInfo(path).Length);
    }

    [Fact]
    public void Open_LongLastLine_BeyondOneProbe_IsRead()
    {
        string path = Path.Combine(_dir, "out.ndjson");
        string big = $"{{\"resourceType\":\"Bundle\",\"meta\":{{\"source\":\"s#9\"}},\"pad\":\"{new string('x', 200_000)}\"}}";
        File.WriteAllText(path, big + "\n");
        using var sink = new NdjsonFileSink(path);
        Assert.Equal("s#9", sink.Open());
    }

    [Fact]
    public void ALongRunWithoutAFlush_KeepsEveryLineWholeAndInOrder_ThroughTheStepsThatReleaseIt()
    {
        // A replay's file is flushed only at its end: past each 8 MiB step the writer flushes its buffer, asks the kernel
        // to write the step back and drops an older step from the page cache. None of that may lose or reorder a byte
        // (whether pages were dropped is the kernel's business and is not checked here).
        string path = Path.Combine(_dir, "out.ndjson");
        string pad = new('x', 8_000);
        byte[] LongLine(int seq) => Encoding.UTF8.GetBytes($"{{\"resourceType\":\"Bundle\",\"meta\":{{\"source\":\"s#{seq}\"}},\"pad\":\"{pad}\"}}");
        int lines = 0;
        using (var sink = new NdjsonFileSink(path))
        {
            sink.Open();
            while (sink.Position < 25L * 1024 * 1024)
            {
                sink.Append(LongLine(++lines));
            }

            sink.Flush(durable: false);
        }

        string[] written = File.ReadAllLines(path);
        Assert.Equal(lines, written.Length);
        for (int i = 0; i < lines; i++)
        {
            Assert.Equal($"s#{i + 1}", NdjsonFileSink.ReadMetaSource(Encoding.UTF8.GetBytes(written[i])));
        }
    }

    [Theory]
    [InlineData("{\"meta\":{\"versionId\":\"1\",\"source\":\"x\"}}", "x")]
    [InlineData("{\"a\":[1,{\"meta\":{\"source\":\"no\"}}],\"meta\":{\"source\":\"yes\"}}", "yes")]
    [InlineData("{\"meta\":{}}", null)]
    [InlineData("not json", null)]
    [InlineData("[]", null)]
    public void ReadMetaSource_ReadsOnlyTheTopLevelMeta(string json, string? expected) =>
        Assert.Equal(expected, NdjsonFileSink.ReadMetaSource(Encoding.UTF8.GetBytes(json)));
}
