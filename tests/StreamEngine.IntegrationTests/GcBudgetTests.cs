using System.Net.Sockets;
using System.Runtime.InteropServices;
using StreamEngine.Diagnostics;
using StreamEngine.Hl7v2;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// The engine's process on a machine that hides its CPU caches (Firecracker guests, this CI's among them) replaces itself
/// with one whose garbage collector has a sane gen-0 budget: the same process (a supervisor's SIGTERM and SIGKILL reach
/// it), serving and stopping as before; an operator's own setting is left alone.
/// </summary>
public sealed class GcBudgetTests
{
    private static readonly bool CachesHidden = !Directory.Exists("/sys/devices/system/cpu/cpu0/cache");

    private static Dictionary<string, string> EnvironmentOf(int pid) =>
        File.ReadAllText($"/proc/{pid}/environ").Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Select(v => v.Split('=', 2)).ToDictionary(v => v[0], v => v.Length > 1 ? v[1] : string.Empty);

    [Fact]
    public async Task WhereTheRuntimesBudgetIsTheFallback_TheEngineRunsWithALargerOne_InTheProcessItWasStartedAs()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "gc", port = 0 });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        Dictionary<string, string> environment = EnvironmentOf(engine.ProcessId); // the pid the test started
        bool applied = environment.ContainsKey(GcBudget.AppliedMarker);
        if (CachesHidden && RuntimeInformation.ProcessArchitecture == Architecture.X64)
        {
            Assert.True(applied); // x64 runtimes read the sizes there: their budget is the fallback (this CI's machine)
        }

        if (applied)
        {
            Assert.Equal($"0x{GcBudget.FallbackBudget:X}", environment[GcBudget.Variable]);
            Assert.True(await engine.AwaitLogAsync($"the garbage collector's gen-0 budget was set to {GcBudget.Variable}=0x1000000"));
            // The runtime's diagnostics port (dotnet-counters, dotnet-trace) is the new image's, not the old one's dead file.
            string port = Assert.Single(Directory.GetFiles(Path.GetTempPath(), $"dotnet-diagnostic-{engine.ProcessId}-*"));
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(port));
        }
        else
        {
            Assert.False(environment.ContainsKey(GcBudget.Variable));
            Assert.DoesNotContain("gen-0 budget", engine.Logs, StringComparison.Ordinal);
        }

        await using (MllpClient client = await MllpClient.ConnectAsync("127.0.0.1", engine.Port, CancellationToken.None))
        {
            byte[] message = "MSH|^~\\&|PAS|RX1|ROUTE|RX1|20261130081500||ADT^A01^ADT_A01|GC1|P|2.4\rPID|1||M1^^^R0B^MR||TESTER^PAT||19800101|F\r"u8.ToArray();
            Assert.True(Hl7Parser.TryParse(await client.SendAsync(message, TimeSpan.FromSeconds(30), CancellationToken.None), out Hl7Message? ack, out _));
            Assert.Equal("AA", ack!.Get("MSA-1"));
        }

        Assert.Single(await folder.AwaitLinesAsync(1));
        Assert.Equal(0, await engine.StopAsync()); // SIGTERM to the started pid: a clean stop
    }

    [Fact]
    public async Task ABudgetTheOperatorChose_IsLeftAsItIs()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "gc", port = 0 });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path, environment: new Dictionary<string, string> { [GcBudget.Variable] = "0x2000000" });
        Dictionary<string, string> environment = EnvironmentOf(engine.ProcessId);
        Assert.Equal("0x2000000", environment[GcBudget.Variable]);
        Assert.False(environment.ContainsKey(GcBudget.AppliedMarker));
        Assert.DoesNotContain("gen-0 budget", engine.Logs, StringComparison.Ordinal);
        Assert.Equal(0, await engine.StopAsync());
    }
}
