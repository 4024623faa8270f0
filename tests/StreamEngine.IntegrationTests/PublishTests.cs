using System.Diagnostics;
using System.Reflection.PortableExecutable;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// The README's deployment: <c>dotnet publish</c> of the host, compiled ahead of time, runs. On its own, after the
/// other tests of this assembly: crossgen takes both cores for a minute.
/// </summary>
[Collection(nameof(PublishTests))]
public sealed class PublishTests
{
    [Fact]
    public async Task Publish_CompilesOursAkkaAndLinq2dbAheadOfTime_NotFirelys_AndThePublishedEngineRuns()
    {
        string root = Path.GetDirectoryName(Path.GetDirectoryName(PeerProcess.PeersFolder))!; // the repository
        using var folder = new TestFolder();

        // A copy of the sources: a publish restores for a runtime, which must not touch the build under test.
        string repo = Directory.CreateDirectory(Path.Combine(folder.Path, "repo")).FullName;
        foreach (string file in new[] { "global.json", "Directory.Build.props", "Directory.Packages.props" })
        {
            File.Copy(Path.Combine(root, file), Path.Combine(repo, file));
        }

        foreach (string file in Directory.EnumerateFiles(Path.Combine(root, "src"), "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(root, file);
            if (relative.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            {
                continue;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(repo, relative))!);
            File.Copy(file, Path.Combine(repo, relative));
        }

        string output = Path.Combine(folder.Path, "published");
        (int publishCode, string publishLog) = await RunAsync("dotnet", repo, "publish", "src/StreamEngine.Host", "-c", "Release", "-o", output, "-v", "q");
        Assert.True(publishCode == 0, publishLog);

        foreach (string assembly in new[] { "streamengine.dll", "StreamEngine.Pipeline.dll", "StreamEngine.Fhir.dll", "Akka.dll", "Akka.Persistence.Sql.dll", "linq2db.dll" })
        {
            Assert.True(ReadyToRun(Path.Combine(output, assembly)), $"{assembly} is not ReadyToRun");
        }

        Assert.False(ReadyToRun(Path.Combine(output, "Hl7.Fhir.R4.dll")));

        (int code, string converted) = await RunAsync("dotnet", root, Path.Combine(output, "streamengine.dll"), "convert", "samples/adt_a01.hl7");
        Assert.True(code == 0, converted);
        Assert.Contains("\"resourceType\":\"Bundle\"", converted, StringComparison.Ordinal);
    }

    // A ReadyToRun image's CLI header points at its native code's header.
    private static bool ReadyToRun(string path)
    {
        using var pe = new PEReader(File.OpenRead(path));
        return pe.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size > 0;
    }

    private static async Task<(int Code, string Output)> RunAsync(string program, string directory, params string[] args)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true); // crossgen left running would hold both cores
            throw;
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}

[CollectionDefinition(nameof(PublishTests), DisableParallelization = true)]
public sealed class PublishTestsCollection;
