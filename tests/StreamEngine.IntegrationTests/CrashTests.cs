using System.Globalization;
using System.Text.Json;
using StreamEngine.Hl7v2;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// The effectively-once proof: senders stream ADT, ORU and SIU messages for many patients over several connections,
/// each patient pinned to one connection and its next message sent only after the previous one's ACK, resending
/// whatever was not ACKed after reconnecting; the engine is killed with SIGKILL at random moments and restarted on the
/// same data. At the end every message appears exactly once in the NDJSON sink, and each patient's messages are in send
/// order.
/// STREAMENGINE_CRASH_MESSAGES sets the size (default 2,000; perf/crash-test.sh runs 5,000), STREAMENGINE_CRASH_KILLS
/// the number of kills (default 3), STREAMENGINE_CRASH_SEED replays a failing run's kill points. With
/// STREAMENGINE_CRASH_TERM_FIRST=1 each kill is a SIGTERM followed by a SIGKILL 0-400 ms later (a service manager's stop
/// timeout running out while the engine stops), so the kills fall inside the engine's own shutdown.
/// </summary>
public sealed class CrashTests
{
    private const int Patients = 500;
    private const int Connections = 4;

    [SkippableTheory]
    [InlineData("sqlite", "fsync", false)]
    [InlineData("sqlite", "os", false)]
    [InlineData("sqlite", "os", true)] // the NDJSON output rotating every 64 KB: a crash can fall between files
    [InlineData("postgresql", "fsync", false)]
    public async Task KillDashNine_RepeatedlyUnderLoad_EveryAckedMessageOnceInTheSink_InOrderPerPatient(string provider, string durability, bool rotate)
    {
        string? connectionString = provider == "postgresql" ? await TestPostgres.CreateDatabaseAsync() : null;
        int total = int.TryParse(Environment.GetEnvironmentVariable("STREAMENGINE_CRASH_MESSAGES"), CultureInfo.InvariantCulture, out int n) ? n : 2000;
        int perPatient = Math.Max(1, total / Patients);
        total = perPatient * Patients;
        int kills = int.TryParse(Environment.GetEnvironmentVariable("STREAMENGINE_CRASH_KILLS"), CultureInfo.InvariantCulture, out int kc) && kc > 0 ? kc : 3;
        int seed = int.TryParse(Environment.GetEnvironmentVariable("STREAMENGINE_CRASH_SEED"), CultureInfo.InvariantCulture, out int s) ? s : Environment.TickCount;
        var random = new Random(seed);
        int[] killAt = [.. Enumerable.Range(0, kills).Select(_ => random.Next(total / 10, total * 9 / 10)).Order()];
        bool termFirst = Environment.GetEnvironmentVariable("STREAMENGINE_CRASH_TERM_FIRST") == "1";
        int[] graceMs = [.. Enumerable.Range(0, kills).Select(_ => random.Next(0, 400))];
        string context = $"seed {seed}, kills after {string.Join(", ", killAt)} ACKs{(termFirst ? $" (SIGTERM first, SIGKILL {string.Join(", ", graceMs)} ms later)" : string.Empty)}, {provider}/{durability}{(rotate ? ", rotating" : string.Empty)}";

        using var folder = new TestFolder();
        var engineLogs = new List<string>();
        await folder.WriteConfigAsync(new { name = "crash", port = 0 },
            store: connectionString is null ? new { provider, durability } : (object)new { provider, durability, connectionString },
            sink: rotate ? new { name = "fhir", type = "ndjson", path = folder.Out, rotate = new { maxBytes = "65536" } } : null);

        var engines = new EngineSlot();
        int killedMidStop = 0;
        int acked = 0;
        int abandoned = 0;
        var ackedIds = new System.Collections.Concurrent.ConcurrentBag<string>();
        Task[] senders = [.. Enumerable.Range(0, Connections).Select(c => Task.Run(async () =>
        {
            // This connection's patients, round-robin: a patient's next message goes only after the previous one's ACK.
            var messages = new List<(string Id, byte[] Bytes)>();
            for (int k = 1; k <= perPatient; k++)
            {
                for (int p = c; p < Patients; p += Connections)
                {
                    string id = $"P{p:000}-{k:00}";
                    // An admission, then results, an appointment and updates in turn: other mappings and senders (MSH-3)
                    // through the same patient's lane.
                    (string mrn, string visit) = ($"P{p:000}", $"V{p:000}");
                    byte[] message = k == 1 ? Peers.Adt("A01", id, mrn, visit: visit)
                        : (k % 4) switch
                        {
                            2 => Peers.Oru(id, mrn, visit: visit),
                            3 => Peers.Siu(id, mrn),
                            _ => Peers.Adt("A08", id, mrn, visit: visit),
                        };
                    messages.Add((id, message));
                }
            }

            int next = 0;
            int generation = 0;
            var lostAcks = new Random(seed + c);
            bool died = true;
            while (next < messages.Count)
            {
                (generation, int port) = died ? await engines.NextAsync(generation) : await engines.CurrentAsync(generation);
                died = false;
                try
                {
                    await using var client = await MllpClient.ConnectAsync("127.0.0.1", port, CancellationToken.None);
                    for (; next < messages.Count; next++)
                    {
                        if (lostAcks.Next(50) == 0)
                        {
                            // An ACK lost on the way: the sender gives up on the connection and resends after reconnecting.
                            await client.SendOnlyAsync(messages[next].Bytes, CancellationToken.None);
                            Interlocked.Increment(ref abandoned);
                            break;
                        }

                        byte[] ack = await client.SendAsync(messages[next].Bytes, TimeSpan.FromSeconds(60), CancellationToken.None);
                        Assert.True(Hl7Parser.TryParse(ack, out Hl7Message? parsed, out _));
                        Assert.True(parsed!.Get("MSA-1") == "AA", $"{messages[next].Id} answered {parsed.Get("MSA-1")} ({context})");
                        Assert.Equal(messages[next].Id, parsed.Get("MSA-2"));
                        ackedIds.Add(messages[next].Id);
                        Interlocked.Increment(ref acked);
                    }
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or TimeoutException or OperationCanceledException)
                {
                    // The engine died under us: reconnect to the next one and resend what was not ACKed.
                    died = true;
                }
            }
        }))];

        for (int round = 0; round < kills; round++)
        {
            await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
            engines.Publish(engine.Port);
            while (Volatile.Read(ref acked) < killAt[round] && !senders.All(t => t.IsCompleted))
            {
                await Task.Delay(1);
            }

            if (termFirst)
            {
                killedMidStop += await engine.TerminateThenKillAsync(TimeSpan.FromMilliseconds(graceMs[round])) ? 1 : 0;
            }
            else
            {
                await engine.KillAsync();
            }

            engineLogs.Add(engine.Logs);
        }

        await using EngineProcess last = await EngineProcess.StartAsync(folder.Path);
        engineLogs.Add("(last engine: see below)");
        engines.Publish(last.Port);
        await Task.WhenAll(senders).WaitAsync(TimeSpan.FromMinutes(5));
        List<JsonDocument> lines = await folder.AwaitLinesAsync(total, TimeSpan.FromMinutes(2));
        Assert.Equal(0, await last.StopAsync());
        engineLogs.Add(last.Logs);
        lines = folder.Lines();
        if (rotate)
        {
            string[] files = Directory.GetFiles(folder.Out, "*.ndjson");
            Assert.True(files.Length >= 3, $"the output did not rotate: {string.Join(", ", files.Select(f => Path.GetFileName(f) + " " + new FileInfo(f).Length))} ({context})");
        }

        // With SIGTERM first, at least one SIGKILL must have come while the engine was still stopping, or the run only
        // tested clean stops.
        Assert.True(!termFirst || killedMidStop > 0, $"every engine stopped before its SIGKILL ({context})");
        List<string> delivered = [.. lines.Select(TestFolder.ControlId)];
        Assert.True(abandoned > 0, $"no ACK was abandoned ({context})");
        Assert.Equal(total, ackedIds.Distinct().Count());
        var twice = delivered.GroupBy(d => d).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (twice.Count > 0 && Environment.GetEnvironmentVariable("STREAMENGINE_KEEP_FAILED") is { Length: > 0 } keep)
        {
            CopyFolder(folder.Path, Path.Combine(keep, Path.GetFileName(folder.Path)));
            foreach (string log in engineLogs)
            {
                File.AppendAllText(Path.Combine(keep, Path.GetFileName(folder.Path), "engine.log"), log + "\n----\n");
            }
        }

        Assert.True(twice.Count == 0, $"delivered more than once: {string.Join(", ", twice.Take(10).Select(id =>
            id + " as " + string.Join(" and ", lines.Where(l => TestFolder.ControlId(l) == id).Select(TestFolder.DeliveryId))))} ({context})");
        var missing = ackedIds.Except(delivered).ToList();
        Assert.True(missing.Count == 0, $"ACKed but not delivered: {string.Join(", ", missing.Take(10))} ({context})");
        foreach (IGrouping<string, string> patient in delivered.GroupBy(id => id[..4]))
        {
            Assert.True(patient.SequenceEqual(patient.Order(StringComparer.Ordinal)), $"{patient.Key} out of order: {string.Join(", ", patient)} ({context})");
        }
    }

    private static void CopyFolder(string from, string to)
    {
        foreach (string file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }

    // The running engine's port, by generation: a sender that lost generation g waits for g + 1.
    private sealed class EngineSlot
    {
        private readonly Lock _lock = new();
        private TaskCompletionSource<(int, int)> _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private (int Generation, int Port) _current;

        public void Publish(int port)
        {
            TaskCompletionSource<(int, int)> waiting;
            lock (_lock)
            {
                _current = (_current.Generation + 1, port);
                waiting = _next;
                _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            waiting.SetResult(_current);
        }

        // The engine of this generation if it still runs (a sender that dropped its own connection), else the next.
        public Task<(int Generation, int Port)> CurrentAsync(int generation) => NextAsync(generation - 1);

        public Task<(int Generation, int Port)> NextAsync(int after)
        {
            lock (_lock)
            {
                return _current.Generation > after ? Task.FromResult(_current) : _next.Task;
            }
        }
    }
}
