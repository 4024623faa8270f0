using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Akka.Actor;
using StreamEngine.Host.Admin;
using StreamEngine.Host.Configuration;
using StreamEngine.Pipeline;
using StreamEngine.Pipeline.Admin;
using StreamEngine.Pipeline.Index;

namespace StreamEngine.Host.Commands;

/// <summary>
/// <c>status</c>, <c>trace</c>, <c>quarantine</c> and <c>replay</c>: they reach a running engine through its admin
/// endpoint (address and token from the same configuration file). With the engine stopped, <c>status</c> and
/// <c>quarantine list|show</c> and <c>trace</c> read what it recorded from the store (read-only; a settled message is
/// told delivered or filtered by the sink's settings); <c>retry</c>, <c>skip</c> and <c>replay</c> need the running engine.
/// </summary>
internal static class AdminCommands
{
    private const int Ok = 0;
    private const int Refused = 1;
    private const int Usage = 2;
    private const int Unreachable = 3;

    private static readonly Option<string> ConfigOption = new("--config", "-c")
    {
        Description = "Configuration file of the engine (for admin.port and admin.tokenFile).",
        DefaultValueFactory = _ => SettingsLoader.DefaultConfigFile,
    };

    private static readonly Option<bool> JsonOption = new("--json") { Description = "Print the answer as JSON." };

    public static IEnumerable<Command> Create() => [Status(), Trace(), Quarantine(), Replay()];

    private static Command Status()
    {
        var command = new Command("status", "Per stream and sink: received = delivered + filtered + quarantined + parked + in flight.") { ConfigOption, JsonOption };
        command.SetAction((parse, ct) => RunAsync(parse,
            async client => PrintStatus((await client.GetFromJsonAsync<EngineStatus>("status", AdminServer.Json, ct))!, parse.GetValue(JsonOption)),
            offline: settings => RecordedAsync(settings, "status", state => state.StatusAsync(), status => PrintStatus(status, parse.GetValue(JsonOption)), ct)));
        return command;
    }

    private static int PrintStatus(EngineStatus status, bool json)
    {
        if (json)
        {
            return Print(status);
        }

        foreach (StreamStatus stream in status.Streams)
        {
            string state = stream.State switch
            {
                "running" => string.Empty,
                "recorded" => " (read from the store: as the engine last recorded it)",
                _ => $" (journal {stream.State}: last known)",
            };
            // Only when there is something to say: resends answered again and reused control ids since the engine started.
            string since = stream is { ResendsAnswered: > 0 } or { ControlIdReuses: > 0 }
                ? $"; since the engine started {stream.ResendsAnswered} resend(s) answered again, {stream.ControlIdReuses} control id(s) reused with new content"
                : string.Empty;
            Console.WriteLine($"stream {stream.Stream}: {stream.Journaled} journaled{since}{state}");
        }

        Console.WriteLine($"{"sink",-16} {"stream",-12} {"state",-12} {"received",9} {"delivered",9} {"filtered",9} {"quarant.",9} {"parked",9} {"in flight",9}");
        foreach (SinkStatus sink in status.Sinks)
        {
            Console.WriteLine(sink.CountsKnown
                ? string.Create(CultureInfo.InvariantCulture,
                    $"{sink.SinkId,-16} {sink.ListenerId,-12} {sink.State,-12} {sink.Received,9} {sink.Counts.Delivered,9} {sink.Counts.Filtered,9} {sink.Counts.Quarantined,9} {sink.Counts.Parked,9} {sink.InFlight,9}")
                : $"{sink.SinkId,-16} {sink.ListenerId,-12} {sink.State,-12} {"?",9} {"?",9} {"?",9} {"?",9} {"?",9} {"?",9}");
        }

        return Ok;
    }

    // With the engine stopped: the answer read from what it recorded (read-only), printed as the running engine's is.
    private static async Task<int> RecordedAsync<T>(EngineSettings settings, string command, Func<RecordedState, Task<T>> read, Func<T, int> print,
        CancellationToken ct)
    {
        await Console.Error.WriteLineAsync(settings.Admin is null
            ? $"{command}: no admin endpoint is configured (admin.port); reading what the engine recorded from the store"
            : $"{command}: the engine's admin endpoint is not answering; reading what the engine recorded from the store");
        try
        {
            await using RecordedState? state = await RecordedState.OpenAsync(settings, ct);
            if (state is null)
            {
                string where = settings.Store == StoreProvider.Sqlite ? $"in '{settings.DataDirectory}'" : "in the PostgreSQL database";
                await Console.Error.WriteLineAsync($"{command}: nothing recorded: no journal {where} (has the engine run with this configuration?)");
                return Refused;
            }

            return print(await read(state));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Data.Common.DbException or AskTimeoutException or InvalidOperationException
            or TimeoutException)
        {
            await Console.Error.WriteLineAsync($"{command}: cannot read the store ({e.GetType().Name}: {e.Message})");
            return Unreachable;
        }
    }

    private static Command Trace()
    {
        var controlId = new Option<string>("--control-id") { Description = "MSH-10 of the message." };
        var mrn = new Option<string>("--mrn")
        {
            Description = "The patient's MRN (matched through its keyed hash; never stored in clear). '-' reads it from standard input, "
                + "which keeps it out of the process list and shell history.",
        };
        Option<DateTimeOffset?> since = SinceOption("Only messages received since (ISO 8601, e.g. 2026-11-30T08:00Z; without an offset, UTC).");
        var command = new Command("trace", "Where is a message: received, journaled, and per sink delivered / filtered / quarantined / parked.")
        {
            ConfigOption, JsonOption, controlId, mrn, since,
        };
        command.SetAction(async (parse, ct) =>
        {
            string? id = parse.GetValue(controlId);
            string? patient = parse.GetValue(mrn);
            if (id is not null && patient is not null)
            {
                await Console.Error.WriteLineAsync("trace: give --control-id or --mrn (one of them)");
                return Usage;
            }

            if (patient == "-")
            {
                patient = (await Console.In.ReadLineAsync(ct))?.Trim();
            }

            if (id is null && patient is null)
            {
                await Console.Error.WriteLineAsync("trace: give --control-id or --mrn (one of them)");
                return Usage;
            }

            DateTimeOffset? from = parse.GetValue(since);

            var query = new List<string>();
            if (id is not null) { query.Add("controlId=" + Uri.EscapeDataString(id)); }
            if (patient is not null) { query.Add("mrn=" + Uri.EscapeDataString(patient)); }
            if (from is not null) { query.Add("since=" + Uri.EscapeDataString(from.Value.ToString("O", CultureInfo.InvariantCulture))); }

            return await RunAsync(parse, async client =>
            {
                TraceResult result = (await client.GetFromJsonAsync<TraceResult>("trace?" + string.Join('&', query), AdminServer.Json, ct))!;
                return PrintTrace(result, parse.GetValue(JsonOption));
            }, offline: settings => TraceOfflineAsync(WithOptOut(settings, parse), id, patient, from, parse.GetValue(JsonOption), ct));
        });
        return command;
    }

    // A stopped engine's trace tells a secondary-use sink's settled messages delivered or withheld by the opt-out list as it
    // is now, as the running engine's does: read here (the other commands never read it). One that cannot be read leaves
    // them "delivered or filtered", rather than claim a withheld patient's messages were delivered.
    private static EngineSettings WithOptOut(EngineSettings settings, ParseResult parse)
    {
        if (!settings.Sinks.Any(s => s.Purpose == SinkPurpose.SecondaryUse))
        {
            return settings;
        }

        StreamEngine.Policy.OptOutList? list = SettingsLoader.ReadOptOut(SettingsLoader.BuildConfiguration(parse.GetValue(ConfigOption)!), out string? problem);
        if (problem is not null)
        {
            Console.Error.WriteLine($"trace: note: the national data opt-out list cannot be read now ({problem}): a secondary-use sink's settled messages are shown as delivered or filtered");
        }

        return settings with { OptOut = list };
    }

    private static async Task<int> TraceOfflineAsync(EngineSettings settings, string? controlId, string? mrn, DateTimeOffset? since, bool json, CancellationToken ct)
    {
        return await RecordedAsync(settings, "trace", async state =>
        {
            // The key the engine hashed MRNs with; none in this data directory matches nothing (and none is made).
            Pipeline.Ingest.PatientKeyHasher? hasher = mrn is null ? null : Pipeline.Ingest.PatientKeyHasher.Existing(settings.DataDirectory, state.Index);
            if (mrn is not null && hasher is null)
            {
                await Console.Error.WriteLineAsync("trace: note: this data directory has no patient key (keys/patient-key.hmac), or not the one the journal's "
                    + "messages were keyed with: --mrn cannot be matched (--control-id can)");
            }

            string? patient = mrn is null ? null : hasher?.Hash("mrn:" + mrn.Trim()) ?? "-";
            IReadOnlyList<MessageIndexEntry> found = await state.Index.FindAsync(new MessageQuery { ControlId = controlId, PatientKeyHash = patient, Since = since, Limit = 100 });
            return (Result: await state.TraceAsync(found), Unindexed: await state.UnindexedAsync());
        }, traced =>
        {
            int exit = PrintTrace(traced.Result, json);
            foreach ((string stream, long indexed, long journaled) in traced.Unindexed)
            {
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"trace: note: stream {stream}'s messages {indexed + 1}-{journaled} were journaled after the message index's last write (the engine stopped before indexing them) and are not searched; they are indexed when the engine next starts"));
            }

            return exit;
        }, ct);
    }

    private static int PrintTrace(TraceResult result, bool json)
    {
        if (json)
        {
            return Print(result);
        }

        if (result.Messages.Count == 0)
        {
            Console.WriteLine("no matching message in the index (it keeps the dedupe window: dedupe.window, dedupe.maxKeys)");
            return Refused;
        }

        foreach (TracedMessage traced in result.Messages)
        {
            MessageIndexEntry m = traced.Message;
            Console.WriteLine(m.RejectedReason is { } reason
                ? string.Create(CultureInfo.InvariantCulture,
                    $"{m.ControlId} rejected at ingest ({reason}): received {m.ReceivedAt:O}, journaled as {m.Stream}#{m.SequenceNr} for quarantine, answered with a reject (AR; CR in enhanced mode, the NAK byte on an MLLP release 2 listener)")
                : string.Create(CultureInfo.InvariantCulture,
                    $"{m.ControlId} {m.MessageType} from {m.SendingApplication}/{m.SendingFacility}: received {m.ReceivedAt:O}, journaled as {m.Stream}#{m.SequenceNr}, acknowledged after that commit"));
            foreach ((string sink, string outcome) in traced.Sinks.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                Console.WriteLine($"  sink {sink}: {outcome}");
            }
        }

        return Ok;
    }

    private static Command Quarantine()
    {
        var sink = new Option<string>("--sink") { Description = "Only this sink." };
        var list = new Command("list", "Open quarantine: id, reason, message type, control id, parked behind it.") { ConfigOption, JsonOption, sink };
        list.SetAction((parse, ct) =>
        {
            string? only = parse.GetValue(sink);
            return RunAsync(parse,
                async client => PrintQuarantine((await client.GetFromJsonAsync<QuarantineList>("quarantine" + (only is null ? string.Empty : "?sink=" + Uri.EscapeDataString(only)), AdminServer.Json, ct))!,
                    parse.GetValue(JsonOption)),
                offline: settings => RecordedAsync(settings, "quarantine list", state => state.QuarantineAsync(only), items => PrintQuarantine(items, parse.GetValue(JsonOption)), ct),
                validate: settings => only is null || settings.Sinks.Any(s => s.Id == only) ? null
                    : Fail($"quarantine list: no sink '{only}' in this configuration (sinks: {string.Join(", ", settings.Sinks.Select(s => s.Id))})"));
        });

        var id = new Argument<string>("id") { Description = "Quarantine id: sink/listener/sequence (from quarantine list)." };
        var raw = new Option<bool>("--raw") { Description = "Also print the raw HL7 message (patient data: for the operator's eyes only)." };
        var show = new Command("show", "One quarantined message and what is parked behind it.") { ConfigOption, JsonOption, id, raw };
        show.SetAction(async (parse, ct) => BadId(parse.GetValue(id)!) ?? await RunAsync(parse, async client =>
        {
            using HttpResponseMessage response = await client.GetAsync($"quarantine/{Path(parse.GetValue(id)!)}" + (parse.GetValue(raw) ? "?raw=true" : string.Empty), ct);
            string text = await response.Content.ReadAsStringAsync(ct);
            if (!response.IsSuccessStatusCode)
            {
                return Refusal(text); // an unknown or settled id: said in words, on standard error, as retry and skip do
            }

            return PrintShown(JsonSerializer.Deserialize<QuarantineDetail>(text, AdminServer.Json)!, parse.GetValue(JsonOption));
        }, offline: settings => RecordedAsync(settings, "quarantine show", state => state.ShowAsync(new ShowQuarantined(parse.GetValue(id)!, parse.GetValue(raw))),
            shown => shown is QuarantineDetail detail ? PrintShown(detail, parse.GetValue(JsonOption))
                : Refusal(shown is QuarantineActionResult refused ? refused.Message : shown.ToString() ?? string.Empty), ct)));

        var retry = new Command("retry", "Deliver it again (after a configuration fix), then what was parked behind it, in order.") { ConfigOption, id };
        retry.SetAction(async (parse, ct) => BadId(parse.GetValue(id)!)
            ?? await RunAsync(parse, client => ActAsync(client, $"quarantine/{Path(parse.GetValue(id)!)}/retry", null, ct)));

        var reason = new Option<string>("--reason") { Description = "Why it is skipped (recorded).", Required = true };
        var skip = new Command("skip", "Give it up, recording why; then deliver what was parked behind it, in order.") { ConfigOption, id, reason };
        skip.SetAction(async (parse, ct) => BadId(parse.GetValue(id)!)
            ?? (string.IsNullOrWhiteSpace(parse.GetValue(reason)) ? Fail("quarantine skip: --reason must say why (it is recorded)") : (int?)null)
            ?? await RunAsync(parse, client => ActAsync(client, $"quarantine/{Path(parse.GetValue(id)!)}/skip", new { reason = parse.GetValue(reason) }, ct)));

        return new Command("quarantine", "Messages a sink could not deliver: list, show, retry, skip.") { list, show, retry, skip };
    }

    // One quarantined message as quarantine list prints it, then the sequence numbers parked behind it, then (--raw) the
    // message itself, a segment a line.
    private static int PrintShown(QuarantineDetail detail, bool json)
    {
        if (json)
        {
            return Print(detail);
        }

        Console.WriteLine(ItemLine(detail.Item));
        Console.WriteLine(detail.ParkedSequenceNrs.Count == 0 ? "parked behind it: none"
            : "parked behind it (sequence numbers): " + string.Join(", ", detail.ParkedSequenceNrs.Select(n => n.ToString(CultureInfo.InvariantCulture))));
        if (detail.Raw is { } raw)
        {
            Console.WriteLine("raw message (patient data):");
            Console.WriteLine(raw.TrimEnd('\r', '\n').ReplaceLineEndings(Environment.NewLine)); // HL7 ends segments with CR
        }

        return Ok;
    }

    private static string ItemLine(QuarantineItem item) => string.Create(CultureInfo.InvariantCulture,
        $"{item.Id}  {item.Reason}  {item.MessageType} {item.ControlId}  since {item.At:O}  {item.Parked} parked behind it{(item.Releasing is null ? string.Empty : $"  (release under way: {item.Releasing})")}");

    private static int PrintQuarantine(QuarantineList items, bool json)
    {
        if (json)
        {
            Print(items);
            return items.Unavailable.Count > 0 ? Refused : Ok;
        }

        foreach (QuarantineItem item in items.Items)
        {
            Console.WriteLine(ItemLine(item));
        }

        Console.WriteLine($"{items.Items.Count} open");
        foreach (string unavailable in items.Unavailable)
        {
            Console.Error.WriteLine($"quarantine: sink {unavailable}: its quarantine is not listed; try again shortly");
        }

        return items.Unavailable.Count > 0 ? Refused : Ok;
    }

    private static Command Replay()
    {
        var sink = new Option<string>("--sink") { Description = "The sink to replay to.", Required = true };
        var stream = new Option<string>("--stream") { Description = "Only this stream (listener id); default all." };
        var fromSeq = new Option<long?>("--from-seq") { Description = "From this journal sequence number." };
        Option<DateTimeOffset?> since = SinceOption("From messages received since (ISO 8601, e.g. 2026-11-30T08:00Z; without an offset, UTC).");
        var type = new Option<string>("--type") { Description = "Only patients with a message of this type, e.g. ADT^A08." };
        var failedOnly = new Option<bool>("--failed-only") { Description = "Retry the quarantined messages and what is parked behind them." };
        var rate = new Option<double?>("--rate") { Description = "At most this many messages per second." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Only count what would go." };
        var command = new Command("replay", "Deliver a range of a stream again to one sink: each affected patient's messages from the start to now, in order.")
        {
            ConfigOption, JsonOption, sink, stream, fromSeq, since, type, failedOnly, rate, dryRun,
        };
        command.SetAction(async (parse, ct) =>
        {
            DateTimeOffset? from = parse.GetValue(since);

            if (parse.GetValue(fromSeq) is null && from is null && !parse.GetValue(failedOnly))
            {
                await Console.Error.WriteLineAsync("replay: give --from-seq, --since or --failed-only");
                return Usage;
            }

            if (parse.GetValue(fromSeq) is not null && from is not null)
            {
                await Console.Error.WriteLineAsync("replay: --from-seq and --since are alternatives: give one");
                return Usage;
            }

            if (parse.GetValue(fromSeq) is < 1 and long start)
            {
                return Fail($"replay: --from-seq {start} is not a journal sequence number (they start at 1)");
            }

            if (parse.GetValue(rate) is double cap && !(cap > 0 && double.IsFinite(cap)))
            {
                return Fail($"replay: --rate {cap.ToString(CultureInfo.InvariantCulture)} is not a positive number of messages a second");
            }

            string sinkId = parse.GetValue(sink)!;
            string? streamId = parse.GetValue(stream);
            return await RunAsync(parse, validate: settings => settings.Sinks.All(s => s.Id != sinkId)
                ? Fail($"replay: no sink '{sinkId}' in this configuration (sinks: {string.Join(", ", settings.Sinks.Select(s => s.Id))})")
                : streamId is not null && settings.Listeners.All(l => l.Id != streamId)
                    ? Fail($"replay: no stream '{streamId}' in this configuration (listeners: {string.Join(", ", settings.Listeners.Select(l => l.Id))})")
                    : null, action: async client =>
            {
                client.Timeout = Timeout.InfiniteTimeSpan;
                using HttpResponseMessage response = await client.PostAsJsonAsync("replay", new
                {
                    sink = parse.GetValue(sink),
                    stream = parse.GetValue(stream),
                    fromSeq = parse.GetValue(fromSeq),
                    since = from,
                    type = parse.GetValue(type),
                    failedOnly = parse.GetValue(failedOnly),
                    rate = parse.GetValue(rate),
                    dryRun = parse.GetValue(dryRun),
                }, AdminServer.Json, ct);
                if (!response.IsSuccessStatusCode)
                {
                    await Console.Error.WriteLineAsync($"replay: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
                    return Refused;
                }

                ReplayResults results = (await response.Content.ReadFromJsonAsync<ReplayResults>(AdminServer.Json, ct))!;
                int exit = results.Results.Any(r => r.Failed > 0 || r.Error is not null) ? Refused : Ok;
                if (parse.GetValue(JsonOption))
                {
                    Print(results);
                    return exit;
                }

                foreach (ReplayResult r in results.Results)
                {
                    if (r.Error is not null)
                    {
                        bool ran = r.Messages > 0;
                        Console.Error.WriteLine($"replay {r.ReplayId} sink {r.SinkId} stream {r.ListenerId}: {(ran ? "failed" : "not run")}: {r.Error}");
                        if (!ran)
                        {
                            continue;
                        }
                    }

                    Console.WriteLine(r.DryRun
                        ? $"replay {r.ReplayId} (dry run) sink {r.SinkId} stream {r.ListenerId}: {r.Matched} matching, {r.Messages - r.Filtered} messages would go"
                          + (r.Filtered > 0 ? $" (not counting {r.Filtered} an operator skipped: they stay skipped)" : string.Empty)
                        : $"replay {r.ReplayId} sink {r.SinkId} stream {r.ListenerId}: {r.Matched} matching, {r.Messages} messages, {r.Delivered} delivered, {r.Filtered} filtered, {r.Failed} failed{(r.HeldBehind > 0 ? $" ({r.HeldBehind} held behind an earlier failure of their patient)" : string.Empty)} in {r.Seconds:0.00} s"
                          + (r.Output is null ? string.Empty : $" (output: replays/{r.Output}/)"));
                    if (r.RetainedFrom is { } retained)
                    {
                        Console.WriteLine($"  note: retention has deleted this stream's messages before sequence {retained}"
                            + (r.RetainedSince is { } at ? $" (received {at.UtcDateTime:yyyy-MM-ddTHH:mm:ss}Z)" : string.Empty)
                            + (r.Messages > 0 ? "; the replay began there" : "; nothing of the range asked for is left")
                            + " (retention.replayWindow sets how long the journal keeps them)");
                    }
                }

                return exit;
            });
        });
        return command;
    }

    // A point in time, ISO 8601 (no offset means UTC); a bad value is a usage error naming the option.
    private static Option<DateTimeOffset?> SinceOption(string description) => new("--since")
    {
        Description = description,
        CustomParser = result =>
        {
            string text = result.Tokens.Single().Value;
            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset parsed))
            {
                return parsed;
            }

            result.AddError($"--since '{text}' is not a date/time (ISO 8601, e.g. 2026-11-30T08:00Z or 2026-07-01T09:00+01:00; without an offset, UTC)");
            return null;
        },
    };

    private static async Task<int> ActAsync(HttpClient client, string path, object? body, CancellationToken ct)
    {
        using HttpResponseMessage response = await client.PostAsJsonAsync(path, body ?? new { }, AdminServer.Json, ct);
        string text = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            return Refusal(text);
        }

        Console.WriteLine(MessageOf(text));
        return Ok;
    }

    // What the engine refused and why, on standard error (exit code 1).
    private static int Refusal(string text)
    {
        Console.Error.WriteLine(MessageOf(text));
        return Refused;
    }

    // The message of a quarantine action's answer, or the answer as it came when it is not one.
    private static string MessageOf(string text)
    {
        try
        {
            return JsonSerializer.Deserialize<QuarantineActionResult>(text, AdminServer.Json)?.Message ?? text;
        }
        catch (JsonException)
        {
            return text;
        }
    }

    private static string Path(string id) => string.Join('/', id.Split('/').Select(Uri.EscapeDataString));

    // A quarantine id is sink/listener/sequence: anything else is told at once (the endpoint has no route for it).
    private static int? BadId(string id)
    {
        string[] parts = id.Split('/');
        if (parts.Length == 3 && parts[0].Length > 0 && parts[1].Length > 0 && long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            return null;
        }

        Console.Error.WriteLine($"quarantine: '{id}' is not a quarantine id (sink/listener/sequence, as quarantine list prints)");
        return Usage;
    }

    private static int Print<T>(T value)
    {
        Console.WriteLine(JsonSerializer.Serialize(value, AdminServer.Json));
        return Ok;
    }

    // A usage error: said on standard error.
    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return Usage;
    }

    // Loads the configuration, connects to the admin endpoint and runs the action; offline runs when the engine is down.
    private static async Task<int> RunAsync(ParseResult parse, Func<HttpClient, Task<int>> action, Func<EngineSettings, Task<int>>? offline = null,
        Func<EngineSettings, int?>? validate = null)
    {
        EngineSettings settings;
        try
        {
            settings = SettingsLoader.Load(SettingsLoader.BuildConfiguration(parse.GetValue(ConfigOption)!), readConsent: false);
        }
        catch (ConfigurationException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return Usage;
        }

        if (validate?.Invoke(settings) is int refused)
        {
            return refused;
        }

        if (settings.Admin is not { } admin)
        {
            if (offline is not null)
            {
                return await offline(settings);
            }

            await Console.Error.WriteLineAsync($"{parse.CommandResult.Command.Name}: no admin endpoint configured (set admin.port and admin.tokenFile)");
            return Usage;
        }

        string token;
        try
        {
            token = AdminToken.Read(admin.TokenFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (offline is not null)
            {
                return await offline(settings);
            }

            await Console.Error.WriteLineAsync($"{parse.CommandResult.Command.Name}: cannot read the admin token file '{admin.TokenFile}' (has the engine run?)");
            return Unreachable;
        }

        string address = $"http://{admin.Host}:{admin.Port.ToString(CultureInfo.InvariantCulture)}";
        if (admin.Port == 0)
        {
            // A free port the engine picked, written to the data directory while it runs (removed when it stops).
            string endpointFile = AdminServer.EndpointFile(settings);
            if (!File.Exists(endpointFile))
            {
                if (offline is not null)
                {
                    return await offline(settings);
                }

                await Console.Error.WriteLineAsync($"{parse.CommandResult.Command.Name}: the engine is not running (admin.port is 0 and there is no '{endpointFile}', which a running engine writes)");
                return Unreachable;
            }

            address = (await File.ReadAllTextAsync(endpointFile)).Trim();
        }

        using var client = new HttpClient { BaseAddress = new Uri(address.TrimEnd('/') + "/"), Timeout = TimeSpan.FromMinutes(2) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        try
        {
            return await action(client);
        }
        catch (HttpRequestException e) when (e.StatusCode is null)
        {
            if (offline is not null)
            {
                return await offline(settings);
            }

            await Console.Error.WriteLineAsync($"{parse.CommandResult.Command.Name}: the engine's admin endpoint at {client.BaseAddress} is not answering: is the engine running?");
            return Unreachable;
        }
        catch (HttpRequestException e) when (e.StatusCode == HttpStatusCode.Unauthorized)
        {
            await Console.Error.WriteLineAsync($"{parse.CommandResult.Command.Name}: the admin endpoint refused the token in '{admin.TokenFile}'");
            return Unreachable;
        }
        catch (HttpRequestException e)
        {
            await Console.Error.WriteLineAsync($"{parse.CommandResult.Command.Name}: the engine could not answer ({(int)e.StatusCode!} {e.StatusCode}); its log says why");
            return Unreachable;
        }
        catch (TaskCanceledException e) when (e.InnerException is TimeoutException)
        {
            await Console.Error.WriteLineAsync($"{parse.CommandResult.Command.Name}: the engine did not answer within {client.Timeout.TotalSeconds:0} s");
            return Unreachable;
        }
    }
}
