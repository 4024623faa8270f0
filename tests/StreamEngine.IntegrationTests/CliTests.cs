using System.Diagnostics;
using System.Text.Json;

namespace StreamEngine.IntegrationTests;

/// <summary>The offline commands, run as a user runs them.</summary>
public sealed class CliTests
{
    internal static async Task<(int ExitCode, string Stdout)> RunAsync(params string[] args)
    {
        (int exit, string stdout, _) = await RunWithErrorsAsync(args);
        return (exit, stdout);
    }

    internal static async Task<(int ExitCode, string Stdout, string Stderr)> RunWithErrorsAsync(params string[] args)
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
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true); // a command that should have ended (a second `run`) must not outlive the test
            throw;
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    private static string RepoFile(params string[] parts) =>
        Path.GetFullPath(Path.Combine([AppContext.BaseDirectory, "..", "..", "..", "..", "..", .. parts]));

    [Fact]
    public async Task Convert_PrintsOneBundlePerMessage_CompactOrPretty()
    {
        (int exit, string stdout, string stderr) = await RunWithErrorsAsync("convert", Path.Combine(AppContext.BaseDirectory, "samples", "adt_batch.hl7"));
        Assert.True(exit == 0, stderr);
        string[] lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.Equal("transaction", JsonDocument.Parse(l).RootElement.GetProperty("type").GetString()));
        Assert.Equal(string.Empty, stderr.Trim()); // the samples written for this project map without a warning

        (exit, stdout, stderr) = await RunWithErrorsAsync("convert", "--pretty", Path.Combine(AppContext.BaseDirectory, "samples", "adt_a01.hl7"));
        Assert.True(exit == 0, stderr);
        Assert.True(stdout.Split('\n').Length > 20);
        Assert.Equal("SAMPLE0001", JsonDocument.Parse(stdout).RootElement.GetProperty("identifier").GetProperty("value").GetString());
    }

    [Fact]
    public async Task Convert_AppliesATrustProfile_AndABadProfileOrMessageTypeIsReportedByCode()
    {
        using var folder = new TestFolder();
        string message = Path.Combine(folder.Path, "a04.hl7");
        await File.WriteAllTextAsync(message, "MSH|^~\\&|PAS|RX1|ROUTE|RX1|20261201||ADT^A04|C1|P|2.4\rPID|1||RX1^^^R0B^MR\rPV1|1|E|ED^^^R0B01||||||||||||||||SP1^^^R0B\r");
        (int exit, string stdout, string stderr) = await RunWithErrorsAsync("convert", "--profile", RepoFile("config", "examples", "trust-profile.json"), message);
        Assert.True(exit == 0, stderr);
        Assert.Contains("https://fhir.example-trust.nhs.uk/Id/mrn", stdout, StringComparison.Ordinal);
        Assert.Contains("\"status\":\"arrived\"", stdout, StringComparison.Ordinal); // the profile's A04 choice

        string bad = Path.Combine(folder.Path, "bad.json");
        await File.WriteAllTextAsync(bad, "{ \"zSegments\": [ { \"segment\": \"ZU1\", \"field\": 27, \"target\": \"nowhere\" } ] }");
        (exit, _, stderr) = await RunWithErrorsAsync("convert", "--profile", bad, message);
        Assert.Equal(2, exit);
        Assert.Contains("bad.json: zSegments[0].target", stderr, StringComparison.Ordinal);

        string query = Path.Combine(folder.Path, "qry.hl7");
        await File.WriteAllTextAsync(query, "MSH|^~\\&|PAS|RX1|ROUTE|RX1|20261201||QRY^A19|Q1|P|2.4\rQRD|20261201|R|I|Q1\r");
        (exit, stdout, stderr) = await RunWithErrorsAsync("convert", query);
        Assert.Equal(1, exit);
        Assert.Empty(stdout);
        Assert.Contains("error UnsupportedMessageType@MSH-9", stderr, StringComparison.Ordinal);
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
        string commit = "MSH|^~\\&|PAS|RX1|R|RX1|2026||ADT^A01|CA1|P|2.5|||AL|NE\rPID|1||N2^^^R0B^MR\r"; // a commit ACK only
        await File.WriteAllTextAsync(file, ne + "\n" + commit + "\n" + string.Concat(Enumerable.Range(1, 40).Select(i => System.Text.Encoding.ASCII.GetString(Peers.Adt("A01", $"S{i}", $"M{i % 9}")) + "\n")));

        (int exit, string stdout) = await RunAsync("send", file, "--port", engine.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--connections", "4");

        Assert.Equal(0, exit);
        Assert.Contains("sent 42/42", stdout, StringComparison.Ordinal);
        Assert.Contains("AA 40  AE 0  AR 0  CA 1  CE 0  CR 0", stdout, StringComparison.Ordinal); // the enhanced-mode set once one is seen
        Assert.Contains("none 1", stdout, StringComparison.Ordinal);
        Assert.Contains("p99", stdout, StringComparison.Ordinal);
        Assert.Equal(42, (await folder.AwaitLinesAsync(42)).Count);
    }

    [Fact]
    public async Task Send_ToAReceiverThatIsGone_GivesUpAfterAFewConnectionFailures_InsteadOfWaitingOutEachBackoff()
    {
        using var folder = new TestFolder();
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nothing listens there any more
        string file = Path.Combine(folder.Path, "many.hl7");
        await File.WriteAllTextAsync(file, string.Concat(Enumerable.Range(1, 200).Select(i => System.Text.Encoding.ASCII.GetString(Peers.Adt("A01", $"U{i}", "M1")) + "\n")));

        (int exit, string stdout, string stderr) = await RunWithErrorsAsync("send", file, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(1, exit);
        Assert.Contains("is unreachable (3 failed connects in a row); the last 197 messages were not sent", stderr, StringComparison.Ordinal);
        Assert.Contains($"could not connect to 127.0.0.1:{port}: SocketException", stderr, StringComparison.Ordinal); // why, once
        Assert.Contains("sent 0/200", stdout, StringComparison.Ordinal); // the three tried found no connection: none left
        Assert.Contains("connection 3", stdout, StringComparison.Ordinal);
        Assert.Contains("unsendable 200", stdout, StringComparison.Ordinal);

        // Retried, a message whose every try found no connection still never left.
        (exit, stdout, _) = await RunWithErrorsAsync("send", file, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--max-retries", "2");
        Assert.Equal(1, exit);
        Assert.Contains("sent 0/200", stdout, StringComparison.Ordinal);
        Assert.Contains("unsendable 200", stdout, StringComparison.Ordinal);
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
