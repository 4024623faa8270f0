using System.Globalization;
using System.Text;
using System.Text.Json;
using StreamEngine.Hl7v2;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// The FHIR REST sink against a real FHIR server (@medplum/fhir-router behind tests/peers/fhir-server.mjs), asserted
/// through the server's own search API, never through what the engine says it sent.
/// </summary>
public sealed class FhirSinkTests
{
    private static async Task<int> CountAsync(HttpClient http, string query)
    {
        using JsonDocument result = JsonDocument.Parse(await http.GetStringAsync(query + (query.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "_summary=count"));
        return result.RootElement.GetProperty("total").GetInt32();
    }

    // Requests the test server has refused during its outage so far (GET reads its state without changing it).
    private static async Task<int> RefusedAsync(HttpClient http)
    {
        using JsonDocument state = JsonDocument.Parse(await http.GetStringAsync("$outage"));
        return state.RootElement.GetProperty("refused").GetInt32();
    }

    private static async Task AwaitCountAsync(HttpClient http, string query, int expected, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        int last = -1;
        while (!deadline.IsCancellationRequested)
        {
            last = await CountAsync(http, query);
            if (last >= expected)
            {
                break;
            }

            await Task.Delay(200, CancellationToken.None); // polling the server's search: a probe, not a sleep to synchronise
        }

        Assert.Equal(expected, last);
    }

    private static string NhsNumber(int i)
    {
        for (long n = 999_100_000L + (i * 10L); ; n++)
        {
            string nine = n.ToString(CultureInfo.InvariantCulture);
            int sum = 0;
            for (int d = 0; d < 9; d++)
            {
                sum += (nine[d] - '0') * (10 - d);
            }

            int check = 11 - (sum % 11);
            if (check == 11)
            {
                check = 0;
            }

            if (check != 10)
            {
                return nine + check.ToString(CultureInfo.InvariantCulture);
            }
        }
    }

    private static byte[] Adt(string trigger, int patient, int n)
    {
        string mrn = $"P{patient:D3}";
        string discharge = trigger == "A03" ? "|20261205113000" : string.Empty;
        return Encoding.ASCII.GetBytes(
            $"MSH|^~\\&|PAS|RX1|ROUTE|RX1|20261201{n / 3600 % 24:D2}{n / 60 % 60:D2}{n % 60:D2}||ADT^{trigger}^ADT_A01|F{patient:D3}-{n:D4}|P|2.4\r" +
            $"EVN|{trigger}|20261201090000\r" +
            $"PID|1||{mrn}^^^R0B^MR~{NhsNumber(patient)}^^^NHS^NH||TESTER{patient}^PAT^UPDATE{n}||19800101|F\r" +
            $"PV1|1|I|WARD{patient % 7}^^^R0B01||||||||||||||||V{patient:D3}^^^R0B|||||||||||||||||||||||||20261201090000{discharge}\r");
    }

    [SkippableFact]
    public async Task ThousandAdtMessages_HundredPatients_ExactlyHundredPatientsAndFinishedEncounters_ThroughAnOutage()
    {
        (PeerProcess server, HttpClient http) = await FhirServerTests.StartServerAsync();
        await using PeerProcess serverLifetime = server;
        using HttpClient httpLifetime = http;
        using var folder = new TestFolder();
        await File.WriteAllTextAsync(Path.Combine(folder.Path, "streamengine.json"), JsonSerializer.Serialize(new
        {
            dataDirectory = Path.Combine(folder.Path, "data"),
            listeners = new[] { new { name = "it", host = "127.0.0.1", port = 0 } },
            sinks = new[] { new { name = "server", type = "fhir", baseUrl = http.BaseAddress!.AbsoluteUri, maxAttempts = "3", timeout = "10" } },
            store = new { durability = "os" },
        }));
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);

        // Each patient: admit, eight updates, discharge; patients interleaved, one connection, stop-and-wait.
        var messages = new List<byte[]>();
        int n = 0;
        for (int round = 0; round < 10; round++)
        {
            for (int patient = 1; patient <= 100; patient++)
            {
                messages.Add(Adt(round == 0 ? "A01" : round == 9 ? "A03" : "A08", patient, n++));
            }
        }

        List<Hl7Message> firstAcks = await Peers.SendAsync(engine.Port, messages.Take(300));
        Assert.All(firstAcks, a => Assert.Equal("AA", a.Get("MSA-1")));

        // The server goes down (503, then dropped connections) while the rest arrive: ingest goes on, the sink waits.
        await http.PostAsync("$outage?mode=503", null);
        List<Hl7Message> moreAcks = await Peers.SendAsync(engine.Port, messages.Skip(300).Take(300));
        await http.PostAsync("$outage?mode=drop", null);
        List<Hl7Message> lastAcks = await Peers.SendAsync(engine.Port, messages.Skip(600));
        Assert.All(moreAcks.Concat(lastAcks), a => Assert.Equal("AA", a.Get("MSA-1")));

        // The server stays down until the sink has met the outage (a cold sink may not have sent a request yet while the
        // 700 messages arrived in well under a second): polled, not a timed window.
        using (var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1)))
        {
            while (await RefusedAsync(http) == 0 && !deadline.IsCancellationRequested)
            {
                await Task.Delay(100, CancellationToken.None); // polling the server's state: a probe, not a sleep to synchronise
            }
        }

        Assert.True(await RefusedAsync(http) > 0, "the sink never met the outage");
        (await http.PostAsync("$outage?mode=off", null)).EnsureSuccessStatusCode();

        // Everything arrives once the server is back: one Provenance per message, and the upserts converge.
        // (A bound, not a wait: the drain takes ~15 s here since the test server narrows its search expressions, and took
        // 4-5 min before on a noisy 2-core machine beside the other tests.)
        await AwaitCountAsync(http, "Provenance", 1000, TimeSpan.FromMinutes(10));
        Assert.Equal(100, await CountAsync(http, "Patient"));
        Assert.Equal(100, await CountAsync(http, "Encounter"));
        Assert.Equal(100, await CountAsync(http, "Encounter?status=finished")); // each patient's A03 came last: order kept
        Assert.Equal(1, await CountAsync(http, "Patient?identifier=" + Uri.EscapeDataString("https://fhir.nhs.uk/Id/nhs-number") + "|" + NhsNumber(42)));

        // The last update of each patient wins (their name carries the message number of their last A08/A03).
        using JsonDocument patient42 = JsonDocument.Parse(await http.GetStringAsync("Patient?identifier=" + Uri.EscapeDataString("urn:streamengine:id:R0B:MR") + "|P042"));
        JsonElement name = patient42.RootElement.GetProperty("entry")[0].GetProperty("resource").GetProperty("name")[0];
        Assert.Equal("UPDATE941", name.GetProperty("given")[1].GetString()); // round 9, patient 42: n = 900 + 41
        Assert.Equal(0, await engine.StopAsync());
    }

    [SkippableFact]
    public async Task MaxConcurrentRequests_PostsDifferentPatientsAtOnce_NeverMore_AndKeepsEachPatientsOrder()
    {
        (PeerProcess server, HttpClient http) = await FhirServerTests.StartServerAsync();
        await using PeerProcess serverLifetime = server;
        using HttpClient httpLifetime = http;
        (await http.PostAsync("$delay?ms=25", null)).EnsureSuccessStatusCode(); // every request overlaps whatever is sent meanwhile
        using var folder = new TestFolder();
        await File.WriteAllTextAsync(Path.Combine(folder.Path, "streamengine.json"), JsonSerializer.Serialize(new
        {
            dataDirectory = Path.Combine(folder.Path, "data"),
            listeners = new[] { new { name = "it", host = "127.0.0.1", port = 0 } },
            sinks = new[] { new { name = "server", type = "fhir", baseUrl = http.BaseAddress!.AbsoluteUri, maxConcurrentRequests = "3" } },
            store = new { durability = "os" },
        }));
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);

        // 30 patients, each admitted, updated three times, discharged; sent patient by patient in rounds.
        var messages = new List<byte[]>();
        int n = 0;
        for (int round = 0; round < 5; round++)
        {
            for (int patient = 1; patient <= 30; patient++)
            {
                messages.Add(Adt(round == 0 ? "A01" : round == 4 ? "A03" : "A08", patient, n++));
            }
        }

        Assert.All(await Peers.SendAsync(engine.Port, messages), a => Assert.Equal("AA", a.Get("MSA-1")));
        await AwaitCountAsync(http, "Provenance", 150, TimeSpan.FromMinutes(2));

        using (JsonDocument stats = JsonDocument.Parse(await http.GetStringAsync("$stats")))
        {
            Assert.Equal(3, stats.RootElement.GetProperty("maxInFlight").GetInt32()); // three at once, never four
        }

        Assert.Equal(30, await CountAsync(http, "Patient"));
        Assert.Equal(30, await CountAsync(http, "Encounter?status=finished")); // each patient's discharge came last
        using JsonDocument patient7 = JsonDocument.Parse(await http.GetStringAsync("Patient?identifier=" + Uri.EscapeDataString("urn:streamengine:id:R0B:MR") + "|P007"));
        Assert.Equal("UPDATE126", patient7.RootElement.GetProperty("entry")[0].GetProperty("resource").GetProperty("name")[0].GetProperty("given")[1].GetString());
        Assert.Equal(0, await engine.StopAsync());
    }

    // A FHIR sink to the test server (and the admin endpoint the CLI uses); returns the configuration file.
    private static async Task<string> WriteConfigAsync(TestFolder folder, HttpClient http)
    {
        string config = Path.Combine(folder.Path, "streamengine.json");
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new
        {
            dataDirectory = Path.Combine(folder.Path, "data"),
            admin = new { port = 0 },
            listeners = new[] { new { name = "it", host = "127.0.0.1", port = 0 } },
            sinks = new[] { new { name = "server", type = "fhir", baseUrl = http.BaseAddress!.AbsoluteUri } },
        }));
        return config;
    }

    // Waits (up to a minute) until the sink holds one quarantined message with this many parked behind it; returns its item.
    private static async Task<JsonElement> AwaitOneQuarantinedAsync(string config, int parked, EngineProcess engine)
    {
        for (DateTime deadline = DateTime.UtcNow.AddMinutes(1); ;)
        {
            (int _, string stdout) = await CliTests.RunAsync("quarantine", "list", "--json", "-c", config);
            JsonElement[] items = [.. JsonDocument.Parse(stdout).RootElement.GetProperty("items").EnumerateArray()];
            if (items.Length == 1 && items[0].GetProperty("parked").GetInt32() == parked)
            {
                return items[0].Clone();
            }

            Assert.True(DateTime.UtcNow < deadline, $"not quarantined with {parked} parked: {stdout}\n{engine.Logs}");
            await Task.Delay(100); // a probe of the sink (it answers while messages are parked)
        }
    }

    // The MSH-10 of every bundle the test server answered 2xx, in the order answered.
    private static async Task<List<string>> AcceptedAsync(HttpClient http) =>
        JsonSerializer.Deserialize<List<string>>(await http.GetStringAsync("$accepted"))!;

    [SkippableFact]
    public async Task KilledWhileDelivering_TheServerNeverSeesAPatientsOlderMessageAfterANewerOne()
    {
        (PeerProcess server, HttpClient http) = await FhirServerTests.StartServerAsync();
        await using PeerProcess serverLifetime = server;
        using HttpClient httpLifetime = http;
        (await http.PostAsync("$delay?ms=10", null)).EnsureSuccessStatusCode(); // deliveries are certain to be under way at the kill
        using var folder = new TestFolder();
        await WriteConfigAsync(folder, http);

        // 20 patients, each admitted, updated four times and discharged, sent in rounds.
        var messages = new List<byte[]>();
        int n = 0;
        for (int round = 0; round < 6; round++)
        {
            for (int patient = 1; patient <= 20; patient++)
            {
                messages.Add(Adt(round == 0 ? "A01" : round == 5 ? "A03" : "A08", patient, n++));
            }
        }

        Task<List<string>> AcceptedAsync() => FhirSinkTests.AcceptedAsync(http);
        await using (EngineProcess engine = await EngineProcess.StartAsync(folder.Path))
        {
            Assert.All(await Peers.SendAsync(engine.Port, messages), a => Assert.Equal("AA", a.Get("MSA-1")));
            while ((await AcceptedAsync()).Count < 30)
            {
                await Task.Delay(5); // a probe of the server: the kill lands while deliveries go on
            }

            await engine.KillAsync();
        }

        await using EngineProcess restarted = await EngineProcess.StartAsync(folder.Path);
        List<string> accepted = await AcceptedAsync();
        for (DateTime deadline = DateTime.UtcNow.AddMinutes(2); accepted.Distinct().Count() < messages.Count && DateTime.UtcNow < deadline;)
        {
            await Task.Delay(100); // a probe of the server
            accepted = await AcceptedAsync();
        }

        Assert.Equal(messages.Count, accepted.Distinct().Count());
        // A delivery the server took but the engine had not recorded is sent again after the restart: only ever a
        // patient's latest (the same state again), never an older message after a newer one.
        foreach (IGrouping<string, string> patient in accepted.GroupBy(id => id[..4]))
        {
            int[] order = [.. patient.Select(id => int.Parse(id[5..], System.Globalization.CultureInfo.InvariantCulture))];
            Assert.True(order.Zip(order.Skip(1)).All(p => p.Item2 >= p.Item1), $"{patient.Key} saw {string.Join(", ", order)}");
        }

        Assert.True(accepted.Count - messages.Count <= 20, $"{accepted.Count - messages.Count} sent twice");
        Assert.Equal(0, await restarted.StopAsync());
    }

    [SkippableTheory]
    [InlineData(true)] // the engine killed mid-replay: the replay runs again after the restart
    [InlineData(false)] // the server down mid-replay past the sink's retries: the sink restarts and runs it again
    public async Task CutShortMidReplay_TheReplayRunsAgain_AndTheServerEndsInTheCurrentState(bool kill)
    {
        (PeerProcess server, HttpClient http) = await FhirServerTests.StartServerAsync();
        await using PeerProcess serverLifetime = server;
        using HttpClient httpLifetime = http;
        using var folder = new TestFolder();
        string config = await WriteConfigAsync(folder, http);

        var messages = new List<byte[]>();
        var newest = new Dictionary<string, int>();
        int n = 0;
        for (int round = 0; round < 5; round++)
        {
            for (int patient = 1; patient <= 20; patient++)
            {
                newest[$"F{patient:D3}"] = n;
                messages.Add(Adt(round == 0 ? "A01" : "A08", patient, n++));
            }
        }

        Task<List<string>> AcceptedAsync() => FhirSinkTests.AcceptedAsync(http);
        // Each patient's last accepted message: the server's current state of that patient.
        Dictionary<string, int> Latest(List<string> accepted) => accepted.GroupBy(id => id[..4])
            .ToDictionary(g => g.Key, g => int.Parse(g.Last()[5..], System.Globalization.CultureInfo.InvariantCulture));

        EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        try
        {
            Assert.All(await Peers.SendAsync(engine.Port, messages), a => Assert.Equal("AA", a.Get("MSA-1")));
            while ((await AcceptedAsync()).Distinct().Count() < messages.Count)
            {
                await Task.Delay(50); // a probe of the server
            }

            (await http.PostAsync("$delay?ms=20", null)).EnsureSuccessStatusCode();
            Task<(int ExitCode, string Stdout, string Stderr)> replay = CliTests.RunWithErrorsAsync("replay", "--sink", "server", "--from-seq", "1", "-c", config);
            while ((await AcceptedAsync()).Count < messages.Count + 30)
            {
                await Task.Delay(5); // a probe of the server: the cut lands mid-replay
            }

            if (kill)
            {
                await engine.KillAsync();
                await replay; // answered with the engine gone
                Assert.Contains(Latest(await AcceptedAsync()), p => p.Value != newest[p.Key]); // some patients left older
                await engine.DisposeAsync();
                engine = await EngineProcess.StartAsync(folder.Path);
            }
            else
            {
                (await http.PostAsync("$outage?mode=503", null)).EnsureSuccessStatusCode();
                (int exit, _, string answer) = await replay; // answered when the sink gives up on the server and restarts
                Assert.True(exit == 1 && answer.Contains("runs the replay again from its start", StringComparison.Ordinal), $"exit {exit}: {answer}");
                // Cut short, the replay left some patients with an older message applied last.
                Assert.Contains(Latest(await AcceptedAsync()), p => p.Value != newest[p.Key]);
                (await http.PostAsync("$outage?mode=off", null)).EnsureSuccessStatusCode();
            }

            for (DateTime deadline = DateTime.UtcNow.AddMinutes(2); ;)
            {
                Dictionary<string, int> latest = Latest(await AcceptedAsync());
                if (latest.All(p => p.Value == newest[p.Key]) && engine.Logs.Contains("run again after a restart", StringComparison.Ordinal))
                {
                    break;
                }

                Assert.True(DateTime.UtcNow < deadline, "the server was not brought back to the current state:\n" + engine.Logs);
                await Task.Delay(100); // a probe of the server
            }

            Assert.Contains("was cut short; it runs again from its start", engine.Logs, StringComparison.Ordinal);
            Assert.Equal(0, await engine.StopAsync());
        }
        finally
        {
            await engine.DisposeAsync();
        }
    }

    [SkippableFact]
    public async Task ARefusedMessage_ParksThePatientsLaterOnes_AndARetryDeliversThemInOrder()
    {
        (PeerProcess server, HttpClient http) = await FhirServerTests.StartServerAsync();
        await using PeerProcess serverLifetime = server;
        using HttpClient httpLifetime = http;
        using var folder = new TestFolder();
        string config = await WriteConfigAsync(folder, http);

        // Patient 1's second message is refused (422): quarantined, the five after it parked behind it; patient 2 flows.
        (await http.PostAsync("$refuse?id=F001-0001", null)).EnsureSuccessStatusCode();
        byte[][] messages = [.. Enumerable.Range(0, 7).Select(n => Adt(n == 0 ? "A01" : "A08", 1, n)), Adt("A01", 2, 7)];
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        Assert.All(await Peers.SendAsync(engine.Port, messages), a => Assert.Equal("AA", a.Get("MSA-1")));
        JsonElement item = await AwaitOneQuarantinedAsync(config, parked: 5, engine);

        (await http.PostAsync("$refuse?clear=1", null)).EnsureSuccessStatusCode();
        (int exit, string answer) = await CliTests.RunAsync("quarantine", "retry", item.GetProperty("id").GetString()!, "-c", config);
        Assert.True(exit == 0, answer);
        Assert.Contains("delivered; 5 parked message(s) delivered", answer, StringComparison.Ordinal);
        List<string> accepted = await AcceptedAsync(http);
        Assert.Equal(["F001-0000", "F001-0001", "F001-0002", "F001-0003", "F001-0004", "F001-0005", "F001-0006"], accepted.Where(a => a.StartsWith("F001", StringComparison.Ordinal)));
        Assert.Contains("F002-0007", accepted);
        Assert.Equal(0, await engine.StopAsync());
    }

    [SkippableFact]
    public async Task KilledMidRelease_TheReleaseCarriesOnAfterTheRestart_AndTheServerNeverGoesBackInTime()
    {
        (PeerProcess server, HttpClient http) = await FhirServerTests.StartServerAsync();
        await using PeerProcess serverLifetime = server;
        using HttpClient httpLifetime = http;
        using var folder = new TestFolder();
        string config = await WriteConfigAsync(folder, http);

        // Patient 1's second message is refused: quarantined, the 38 after it parked behind it.
        (await http.PostAsync("$refuse?id=F001-0001", null)).EnsureSuccessStatusCode();
        byte[][] messages = [.. Enumerable.Range(0, 40).Select(n => Adt(n == 0 ? "A01" : "A08", 1, n))];
        List<string> F001(List<string> accepted) => [.. accepted.Where(a => a.StartsWith("F001", StringComparison.Ordinal))];
        await using (EngineProcess engine = await EngineProcess.StartAsync(folder.Path))
        {
            Assert.All(await Peers.SendAsync(engine.Port, messages), a => Assert.Equal("AA", a.Get("MSA-1")));
            await AwaitOneQuarantinedAsync(config, parked: 38, engine);

            (await http.PostAsync("$refuse?clear=1", null)).EnsureSuccessStatusCode();
            (await http.PostAsync("$delay?ms=20", null)).EnsureSuccessStatusCode(); // the kill lands mid-release
            Task<(int ExitCode, string Stdout)> retry = CliTests.RunAsync("quarantine", "retry", "server/it/2", "-c", config);
            while (F001(await AcceptedAsync(http)).Count < 12)
            {
                await Task.Delay(5); // a probe of the server
            }

            await engine.KillAsync();
            await retry; // answered with the engine gone
        }

        // Slowed down after the restart too, so that the release is still under way while an operator looks at it.
        (await http.PostAsync("$delay?ms=300", null)).EnsureSuccessStatusCode();
        await using EngineProcess restarted = await EngineProcess.StartAsync(folder.Path);
        (int _, string during) = await CliTests.RunAsync("quarantine", "list", "-c", config);
        Assert.Contains("(release under way: retried)", during, StringComparison.Ordinal);
        (int again, _, string refused) = await CliTests.RunWithErrorsAsync("quarantine", "retry", "server/it/2", "-c", config);
        Assert.True(again != 0, refused);
        Assert.Contains("busy: the release of the quarantined message at sequence 2 is under way", refused, StringComparison.Ordinal);
        (await http.PostAsync("$delay?ms=0", null)).EnsureSuccessStatusCode();
        // Nobody retries again: the release carries on by itself. A later message of the patient waits for it.
        Assert.Equal("AA", (await Peers.SendAsync(restarted.Port, [Adt("A08", 1, 40)]))[0].Get("MSA-1"));
        List<string> accepted = F001(await AcceptedAsync(http));
        for (DateTime deadline = DateTime.UtcNow.AddMinutes(1); accepted.Distinct().Count() < 41; accepted = F001(await AcceptedAsync(http)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the release did not carry on: {string.Join(", ", accepted)}\n{restarted.Logs}");
            await Task.Delay(100); // a probe of the server
        }

        int[] order = [.. accepted.Select(id => int.Parse(id[5..], CultureInfo.InvariantCulture))];
        Assert.True(order.Zip(order.Skip(1)).All(p => p.Item2 >= p.Item1), "F001 saw " + string.Join(", ", order));
        Assert.True(order.Length - 41 <= 1, $"{order.Length - 41} sent twice: {string.Join(", ", order)}");
        Assert.Contains("was cut short by a stop; it carries on", restarted.Logs, StringComparison.Ordinal);
        (int _, string list) = await CliTests.RunAsync("quarantine", "list", "--json", "-c", config);
        Assert.Empty(JsonDocument.Parse(list).RootElement.GetProperty("items").EnumerateArray());
        Assert.Equal(0, await restarted.StopAsync());
    }

    [SkippableFact]
    public async Task ARetryWaitingOnASlowServer_LeavesTheSinkAnsweringStatus()
    {
        (PeerProcess server, HttpClient http) = await FhirServerTests.StartServerAsync();
        await using PeerProcess serverLifetime = server;
        using HttpClient httpLifetime = http;
        using var folder = new TestFolder();
        string config = await WriteConfigAsync(folder, http);
        (await http.PostAsync("$refuse?id=F001-0001", null)).EnsureSuccessStatusCode();
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        Assert.All(await Peers.SendAsync(engine.Port, [Adt("A01", 1, 0), Adt("A08", 1, 1), Adt("A08", 1, 2)]), a => Assert.Equal("AA", a.Get("MSA-1")));
        await AwaitOneQuarantinedAsync(config, parked: 1, engine);

        // The server now holds each request 15 s: longer than the engine waits for a sink's status (10 s).
        (await http.PostAsync("$refuse?clear=1", null)).EnsureSuccessStatusCode();
        (await http.PostAsync("$delay?ms=15000", null)).EnsureSuccessStatusCode();
        Task<(int ExitCode, string Stdout)> retry = CliTests.RunAsync("quarantine", "retry", "server/it/2", "-c", config);
        for (DateTime deadline = DateTime.UtcNow.AddMinutes(1); ;)
        {
            using JsonDocument stats = JsonDocument.Parse(await http.GetStringAsync("$stats"));
            if (stats.RootElement.GetProperty("inFlight").GetInt32() > 0)
            {
                break; // the retry's request is with the server
            }

            Assert.True(DateTime.UtcNow < deadline, "the retry never reached the server");
            await Task.Delay(20); // a probe of the server
        }

        (int _, string status) = await CliTests.RunAsync("status", "--json", "-c", config);
        JsonElement sink = JsonDocument.Parse(status).RootElement.GetProperty("sinks")[0];
        Assert.Equal("live", sink.GetProperty("state").GetString());
        (int _, string list) = await CliTests.RunAsync("quarantine", "list", "-c", config);
        Assert.Contains("(release under way: retrying)", list, StringComparison.Ordinal);
        (await http.PostAsync("$delay?ms=0", null)).EnsureSuccessStatusCode();
        (int exit, string answer) = await retry;
        Assert.True(exit == 0, answer);
        Assert.Contains("delivered; 1 parked message(s) delivered", answer, StringComparison.Ordinal);
        Assert.Equal(["F001-0000", "F001-0001", "F001-0002"], await AcceptedAsync(http));
        Assert.Equal(0, await engine.StopAsync());
    }
}
