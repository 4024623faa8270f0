using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// The real engine as a separate process (<c>dotnet streamengine.dll run</c>) on a free loopback port, with its
/// own data and output folders, so tests can stop it gracefully (SIGTERM) or kill it (SIGKILL) and start it again.
/// </summary>
internal sealed partial class EngineProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<int> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private EngineProcess(Process process)
    {
        _process = process;
    }

    public int Port { get; private set; }

    public string Logs
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    public int ProcessId => _process.Id;

    /// <summary>Waits (bounded) for a log line containing <paramref name="text"/>: logs are written asynchronously.</summary>
    public async Task<bool> AwaitLogAsync(string text, TimeSpan? timeout = null)
    {
        DateTime deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (!Logs.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(50);
        }

        return true;
    }

    /// <summary>Writes a config for <paramref name="workDir"/> (listener on port 0) and starts the engine on it.</summary>
    public static async Task<EngineProcess> StartAsync(string workDir, bool verbose = false, IReadOnlyDictionary<string, string>? environment = null)
    {
        string config = Path.Combine(workDir, "streamengine.json");
        if (!File.Exists(config))
        {
            await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new
            {
                dataDirectory = Path.Combine(workDir, "data"),
                listeners = new[] { new { name = "it", host = "127.0.0.1", port = 0 } },
                sinks = new[] { new { name = "fhir", type = "ndjson", path = Path.Combine(workDir, "out") } },
            })); // the same shape as TestFolder.WriteConfigAsync, for a folder that did not write its own
        }

        var start = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "streamengine.dll"));
        start.ArgumentList.Add("run");
        start.ArgumentList.Add("--config");
        start.ArgumentList.Add(config);
        if (verbose)
        {
            start.ArgumentList.Add("--verbose");
        }

        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var engine = new EngineProcess(process);
        process.OutputDataReceived += (_, e) => engine.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => engine.OnLine(e.Data);
        process.Exited += (_, _) =>
        {
            process.WaitForExit(); // the output handlers have run to the end: the logs are complete
            engine._ready.TrySetException(new InvalidOperationException("The engine exited before it was ready:\n" + engine.Logs));
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        engine.Port = await engine._ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
        return engine;
    }

    /// <summary>SIGTERM, as systemd or Ctrl-C would; waits for a clean exit and returns the exit code.</summary>
    public async Task<int> StopAsync()
    {
        if (!_process.HasExited)
        {
            _ = Kill(_process.Id, 15);
        }

        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return _process.ExitCode;
    }

    /// <summary>
    /// SIGTERM, then SIGKILL after <paramref name="grace"/> if it has not exited: a service manager whose stop timeout
    /// runs out while the engine is still stopping (flushing sinks, recording progress, closing the journal). True when
    /// the SIGKILL was needed.
    /// </summary>
    public async Task<bool> TerminateThenKillAsync(TimeSpan grace)
    {
        if (!_process.HasExited)
        {
            _ = Kill(_process.Id, 15);
        }

        try
        {
            await _process.WaitForExitAsync().WaitAsync(grace);
            return false;
        }
        catch (TimeoutException)
        {
            await KillAsync();
            return true;
        }
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        Match ready = ReadyLine().Match(line);
        if (ready.Success)
        {
            _ready.TrySetResult(int.Parse(ready.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    [GeneratedRegex(@"Listener \S+ ready on \S*:(\d+)")]
    private static partial Regex ReadyLine();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
