using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Spectre.Console;
using StreamEngine.Hl7v2;
using StreamEngine.Mllp;

namespace StreamEngine.Host.Commands;

/// <summary>
/// <c>streamengine send FILE...</c>: sends every message in the files over MLLP and reports the acknowledgments:
/// counts per code, ACKs discarded for naming no message in flight, ACK latency p50/p95/p99 and the rate. Messages
/// are spread over <c>--connections</c> connections, each stop-and-wait unless <c>--window</c> says otherwise, at
/// most <c>--rate</c> per second in all. Exit code 0 when every message was accepted (AA/CA, or sent with no ACK
/// requested), 1 otherwise, 2 for bad arguments.
/// </summary>
internal static class SendCommand
{
    public static Command Create()
    {
        var files = new Argument<FileInfo[]>("files") { Description = "Files of HL7 v2 messages (CR, LF or CRLF; blank line or MSH starts a message).", Arity = ArgumentArity.OneOrMore };
        var host = new Option<string>("--host") { Description = "MLLP server address.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port", "-p") { Description = "MLLP server port.", DefaultValueFactory = _ => 2575 };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for each ACK.", DefaultValueFactory = _ => 30 };
        var connections = new Option<int>("--connections", "-c") { Description = "Connections to spread the messages over.", DefaultValueFactory = _ => 1 };
        var window = new Option<int>("--window") { Description = "Messages in flight per connection (1: stop-and-wait).", DefaultValueFactory = _ => 1 };
        var rate = new Option<double>("--rate") { Description = "At most this many messages per second in all (0: as fast as ACKs allow).", DefaultValueFactory = _ => 0 };
        var retries = new Option<int>("--max-retries") { Description = "Resends of a message answered AR/CR or timed out.", DefaultValueFactory = _ => 0 };
        var tls = new Option<bool>("--tls") { Description = "Connect with TLS 1.2/1.3." };
        var cert = new Option<FileInfo?>("--cert") { Description = "Client certificate for mutual TLS: a PFX, or a PEM with its key (or --key)." };
        var key = new Option<FileInfo?>("--key") { Description = "PEM private key of --cert, when not in the same file." };
        var ca = new Option<FileInfo?>("--ca") { Description = "PEM certificate of the CA (or the server itself) to trust for TLS." };
        var treat = new Option<string[]>("--treat")
        {
            Description = "Override what an ACK code means for this peer, e.g. --treat AE=retry --treat CR=reject (success, retry, reject).",
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("send", "Send HL7 v2 messages over MLLP and report the ACKs.")
        {
            files, host, port, timeout, connections, window, rate, retries, tls, cert, key, ca, treat,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var overrides = new Dictionary<string, AckDisposition>(StringComparer.Ordinal);
            foreach (string rule in parse.GetValue(treat) ?? [])
            {
                string[] parts = rule.Split('=', 2, StringSplitOptions.TrimEntries);
                if (parts.Length != 2 || parts[0].Length == 0 || !Enum.TryParse(parts[1], ignoreCase: true, out AckDisposition disposition) || !Enum.IsDefined(disposition))
                {
                    Console.Error.WriteLine($"send: --treat '{rule}' is not CODE=success|retry|reject");
                    return Task.FromResult(2);
                }

                overrides[parts[0].ToUpperInvariant()] = disposition;
            }

            var options = new SendOptions(parse.GetValue(host)!, parse.GetValue(port), TimeSpan.FromSeconds(parse.GetValue(timeout)),
                parse.GetValue(connections), parse.GetValue(window), parse.GetValue(rate), parse.GetValue(retries), parse.GetValue(tls),
                parse.GetValue(cert), parse.GetValue(key), parse.GetValue(ca), overrides);
            return RunAsync(parse.GetValue(files)!, options, cancellationToken);
        });
        return command;
    }

    private sealed record SendOptions(string Host, int Port, TimeSpan Timeout, int Connections, int Window, double Rate, int MaxRetries, bool Tls,
        FileInfo? Cert, FileInfo? Key, FileInfo? Ca, IReadOnlyDictionary<string, AckDisposition> Overrides);

    private static async Task<int> RunAsync(FileInfo[] files, SendOptions options, CancellationToken cancellationToken)
    {
        if (options.Connections < 1 || options.Window < 1 || options.Rate < 0 || options.MaxRetries < 0 || options.Timeout <= TimeSpan.Zero)
        {
            await Console.Error.WriteLineAsync("send: --connections and --window must be at least 1; --rate, --max-retries and --timeout not negative");
            return 2;
        }

        var messages = new List<byte[]>();
        foreach (FileInfo file in files)
        {
            if (!file.Exists)
            {
                await Console.Error.WriteLineAsync($"send: file not found: {file.FullName}");
                return 2;
            }

            messages.AddRange(Hl7MessageSplitter.Split(await File.ReadAllBytesAsync(file.FullName, cancellationToken)));
        }

        MllpSenderOptions senderOptions;
        try
        {
            senderOptions = SenderOptions(options);
        }
        catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException)
        {
            await Console.Error.WriteLineAsync($"send: cannot read a certificate: {e.Message}");
            return 2;
        }

        var results = new ConcurrentBag<SendResult>();
        int failed = 0;
        int gaveUp = 0; // set (never reset) once a connection's connects failed GiveUpAfter times in a row: the receiver is gone
        string? connectFailure = null;
        const int GiveUpAfter = 3;
        int next = -1;
        long discarded = 0;
        var clock = Stopwatch.StartNew();
        bool progress = !Console.IsOutputRedirected && messages.Count >= 200;

        async Task Worker(Action? onProgress)
        {
            await using var sender = new MllpSender(senderOptions);
            var inFlight = new List<Task>();
            try
            {
                int i;
                while (Volatile.Read(ref gaveUp) == 0 && (i = Interlocked.Increment(ref next)) < messages.Count)
                {
                    if (options.Rate > 0)
                    {
                        TimeSpan due = TimeSpan.FromSeconds(i / options.Rate) - clock.Elapsed;
                        if (due > TimeSpan.Zero)
                        {
                            await Task.Delay(due, cancellationToken);
                        }
                    }

                    // Started here, in file order, not on the thread pool: the sender writes frames in the order its sends
                    // were called, so with a window the frames of one connection still go out in the order of the files.
                    byte[] message = messages[i];
                    inFlight.Add(Send());
                    async Task Send()
                    {
                        try
                        {
                            SendResult result = await sender.SendAsync(message, cancellationToken);
                            results.Add(result);
                            // Each send to an unreachable receiver waits out a reconnect backoff (up to 30 s): with
                            // thousands left, that looked like a hang. Connects failing a few times in a row (not a
                            // connection dropped under messages in flight), and the rest are not tried.
                            if (sender.FailedConnectsInARow >= GiveUpAfter)
                            {
                                Volatile.Write(ref gaveUp, 1);
                            }
                        }
                        catch (InvalidOperationException e)
                        {
                            // Its MSH-10 is already in flight: its ACK could not be told apart from the other one's.
                            Interlocked.Increment(ref failed);
                            await Console.Error.WriteLineAsync($"send: not sent: {e.Message}");
                        }

                        onProgress?.Invoke();
                    }

                    if (inFlight.Count >= options.Window)
                    {
                        Task finished = await Task.WhenAny(inFlight);
                        inFlight.Remove(finished);
                        await finished; // surfaces an unexpected failure instead of losing it
                    }
                }

                await Task.WhenAll(inFlight);
            }
            finally
            {
                Interlocked.Add(ref discarded, sender.DiscardedAcks);
                connectFailure ??= sender.LastConnectFailure;
            }
        }

        if (progress)
        {
            await AnsiConsole.Progress().StartAsync(async context =>
            {
                ProgressTask task = context.AddTask("sending", maxValue: messages.Count);
                await Task.WhenAll(Enumerable.Range(0, options.Connections).Select(_ => Worker(() => task.Increment(1))));
            });
        }
        else
        {
            await Task.WhenAll(Enumerable.Range(0, options.Connections).Select(_ => Worker(null)));
        }

        clock.Stop();
        if (results.Count + failed < messages.Count)
        {
            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"send: {options.Host}:{options.Port} is unreachable ({GiveUpAfter} failed connects in a row); the last {messages.Count - results.Count - failed} messages were not sent"));
            failed = messages.Count - results.Count;
        }

        if (connectFailure is not null && results.Any(r => r.Code == "connection"))
        {
            await Console.Error.WriteLineAsync($"send: could not connect to {options.Host}:{options.Port}: {connectFailure}");
        }

        Print(messages.Count, results, failed, discarded, clock.Elapsed);
        return results.Count == messages.Count && results.All(r => r.Disposition == AckDisposition.Success) ? 0 : 1;
    }

    private static MllpSenderOptions SenderOptions(SendOptions options)
    {
        X509Certificate2? client = null;
        if (options.Cert is { } cert)
        {
            client = cert.Extension.Equals(".pfx", StringComparison.OrdinalIgnoreCase) || cert.Extension.Equals(".p12", StringComparison.OrdinalIgnoreCase)
                ? X509CertificateLoader.LoadPkcs12FromFile(cert.FullName, password: null)
                : X509Certificate2.CreateFromPemFile(cert.FullName, options.Key?.FullName);
        }

        RemoteCertificateValidationCallback? validation = null;
        if (options.Ca is { } caFile)
        {
            X509Certificate2 trusted = X509CertificateLoader.LoadCertificateFromFile(caFile.FullName);
            validation = (_, certificate, _, errors) =>
            {
                // The chain is checked against --ca below; the name must still match the host connected to.
                if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch) || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(trusted);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
            };
        }

        return new MllpSenderOptions
        {
            Host = options.Host,
            Port = options.Port,
            AckTimeout = options.Timeout,
            MaxRetries = options.MaxRetries,
            Window = options.Window,
            TlsServerName = options.Tls || options.Cert is not null || options.Ca is not null ? options.Host : null,
            ClientCertificate = client,
            ServerCertificateValidation = validation,
            DispositionOverrides = options.Overrides,
        };
    }

    private static void Print(int total, ConcurrentBag<SendResult> results, int failed, long discarded, TimeSpan elapsed)
    {
        var counts = results.GroupBy(r => r.Code).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        // Original-mode codes always; the enhanced-mode ones (commit ACKs) as a set once any is seen, so columns line up.
        string[] usual = counts.Keys.Any(c => c.StartsWith('C')) ? ["AA", "AE", "AR", "CA", "CE", "CR"] : ["AA", "AE", "AR"];
        string codes = string.Join("  ", usual.Concat(counts.Keys.Order(StringComparer.Ordinal)).Distinct()
            .Select(c => $"{c} {counts.GetValueOrDefault(c).ToString(CultureInfo.InvariantCulture)}"));
        double[] latencies = [.. results.Where(r => r.Latency > TimeSpan.Zero).Select(r => r.Latency.TotalMilliseconds).Order()];
        string Percentile(double p) => latencies.Length == 0 ? "-" : latencies[Math.Min(latencies.Length - 1, (int)Math.Ceiling(p * latencies.Length) - 1)].ToString("0.00", CultureInfo.InvariantCulture);
        // A message none of whose tries found a connection never left: unsendable, not sent (its "connection" code stays listed).
        int neverLeft = results.Count(r => !r.Written);
        int sent = results.Count - neverLeft;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sent {sent}/{total}  {codes}  unsendable {failed + neverLeft}  wrong-MSA-2 {discarded}  elapsed {elapsed.TotalSeconds:0.000} s  {sent / Math.Max(elapsed.TotalSeconds, 1e-9):0} msgs/s"));
        Console.WriteLine($"ack latency ms  p50 {Percentile(0.50)}  p95 {Percentile(0.95)}  p99 {Percentile(0.99)}");
    }
}
