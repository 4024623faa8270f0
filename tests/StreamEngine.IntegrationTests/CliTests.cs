using System.Diagnostics;
using System.Text.Json;

namespace StreamEngine.IntegrationTests;

/// <summary>The offline commands, run as a user runs them.</summary>
public sealed class CliTests
{
    internal static async Task<(int ExitCode, string Stdout)> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "streamengine.dll"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        string stdout = await process.StandardOutput.ReadToEndAsync();
        await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, stdout);
    }

    [Fact]
    public async Task Inspect_PrintsOneJsonLinePerMessage_AndSplitsBatches()
    {
        using var folder = new TestFolder();
        string batch = Path.Combine(folder.Path, "batch.hl7");
        await File.WriteAllTextAsync(batch, "FHS|^~\\&\rBHS|^~\\&\rMSH|^~\\&|A|B|C|D|2026||ADT^A01|M1|P|2.5\rPID|1\rMSH|^~\\&|A|B|C|D|2026||ORU^R01^ORU_R01|M2|P|2.3\rOBX|1|ST|x||bad\\Qesc\rBTS|3\rFTS|1\r");
        (int exit, string stdout) = await RunAsync("inspect", batch, Path.Combine(AppContext.BaseDirectory, "samples", "adt_batch.hl7"));

        Assert.Equal(0, exit);
        List<JsonElement> lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(4, lines.Count);
        Assert.Equal(["ADT^A01", "ORU^R01^ORU_R01", "ADT^A08^ADT_A01", "ADT^A01^ADT_A01"], lines.Select(l => l.GetProperty("type").GetString()));
        Assert.Equal("2.3", lines[1].GetProperty("version").GetString());
        Assert.Equal("M2", lines[1].GetProperty("controlId").GetString());
        Assert.Equal(2, lines[1].GetProperty("segments").GetInt32());
        JsonElement escape = Assert.Single(lines[1].GetProperty("issues").EnumerateArray());
        Assert.Equal(("InvalidEscape", 2, 5), (escape.GetProperty("code").GetString(), escape.GetProperty("segment").GetInt32(), escape.GetProperty("field").GetInt32()));
        Assert.Equal("BadBatch", lines[0].GetProperty("batchIssues")[0].GetProperty("code").GetString()); // BTS says 3, the batch holds 2
        Assert.DoesNotContain("bad", stdout, StringComparison.Ordinal); // positions, never content
    }

    [Fact]
    public async Task Inspect_Unreadable_ExitsNonZero_WithCodedIssues()
    {
        using var folder = new TestFolder();
        string file = Path.Combine(folder.Path, "junk.hl7");
        await File.WriteAllTextAsync(file, "not hl7\r");
        (int exit, string stdout) = await RunAsync("inspect", file);
        Assert.Equal(1, exit);
        Assert.Equal("BadMsh", JsonDocument.Parse(stdout).RootElement.GetProperty("issues")[0].GetProperty("code").GetString());
    }

    [Fact]
    public async Task Send_DoesNotWaitForAnAckThatWasNotAskedFor_AndSpreadsOverConnections()
    {
        using var folder = new TestFolder();
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        string file = Path.Combine(folder.Path, "mixed.hl7");
        string ne = "MSH|^~\\&|PAS|RX1|R|RX1|2026||ADT^A01|NE1|P|2.5|||NE|NE\rPID|1||N1^^^R0B^MR\r";
        await File.WriteAllTextAsync(file, ne + "\n" + string.Concat(Enumerable.Range(1, 40).Select(i => System.Text.Encoding.ASCII.GetString(Peers.Adt("A01", $"S{i}", $"M{i % 9}")) + "\n")));

        (int exit, string stdout) = await RunAsync("send", file, "--port", engine.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--connections", "4");

        Assert.Equal(0, exit);
        Assert.Contains("sent 41/41", stdout, StringComparison.Ordinal);
        Assert.Contains("AA 40", stdout, StringComparison.Ordinal);
        Assert.Contains("none 1", stdout, StringComparison.Ordinal);
        Assert.Contains("p99", stdout, StringComparison.Ordinal);
        Assert.Equal(41, (await folder.AwaitLinesAsync(41)).Count);
    }

    [Fact]
    public async Task Send_ReportsRejections_WithANonZeroExitCode()
    {
        using var folder = new TestFolder();
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        string file = Path.Combine(folder.Path, "bad.hl7");
        await File.WriteAllTextAsync(file, "MSH|^~\\&|PAS|RX1|R|RX1|2026|||BAD1|P|2.5\rPID|1\rMSH|^~\\&|PAS\r");
        (int exit, string stdout) = await RunAsync("send", file, "--port", engine.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(1, exit);
        Assert.Contains("sent 2/2", stdout, StringComparison.Ordinal);
        Assert.Contains("AR 2", stdout, StringComparison.Ordinal);
    }
}
