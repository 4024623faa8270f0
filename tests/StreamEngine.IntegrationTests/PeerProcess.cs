using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// A third-party peer from tests/peers (node or python script) run as a process; its stdout is one JSON object per
/// line, read as they come.
/// </summary>
internal sealed class PeerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private PeerProcess(Process process) => _process = process;

    public Channel<JsonElement> Lines { get; } = Channel.CreateUnbounded<JsonElement>();

    /// <summary>tests/peers in the repository this test assembly was built from.</summary>
    public static string PeersFolder
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "StreamEngine.sln")))
            {
                dir = dir.Parent;
            }

            return Path.Combine(dir?.FullName ?? ".", "tests", "peers");
        }
    }

    /// <summary>Skips (or, with STREAMENGINE_REQUIRE_PEERS=1, fails) when the node peers are not installed.</summary>
    public static void RequireNodePeers()
    {
        bool installed = Directory.Exists(Path.Combine(PeersFolder, "node_modules", "@medplum", "hl7"));
        Assert.True(installed || Environment.GetEnvironmentVariable("STREAMENGINE_REQUIRE_PEERS") != "1",
            "node peers are not installed: npm ci --prefix tests/peers (.ci/run does this)");
        Skip.IfNot(installed, "node peers are not installed: npm ci --prefix tests/peers");
    }

    public static PeerProcess Start(string program, params string[] args) => Start(program, new Dictionary<string, string>(), args);

    public static PeerProcess Start(string program, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = PeersFolder, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach ((string name, string value) in environment)
        {
            start.Environment[name] = value;
        }

        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = start };
        var peer = new PeerProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                peer.Lines.Writer.TryComplete();
            }
            else if (e.Data.StartsWith('{'))
            {
                peer.Lines.Writer.TryWrite(JsonDocument.Parse(e.Data).RootElement.Clone());
            }
        };
        process.ErrorDataReceived += (_, _) => { };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return peer;
    }

    public async Task<JsonElement> NextAsync() => await Lines.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));

    public async Task<List<JsonElement>> AllAsync()
    {
        var all = new List<JsonElement>();
        await foreach (JsonElement line in Lines.Reader.ReadAllAsync().WithCancellation(new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token))
        {
            all.Add(line);
        }

        return all;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
