using System.Diagnostics;
using System.Globalization;
using System.Text;
using StreamEngine.Mllp;

namespace StreamEngine.LoadGen;

/// <summary>
/// MLLP load generator and baseline server.
///   loadgen baseline [--port 0] [--durable FILE]
///   loadgen run --port P [--connections 1] [--window 1] [--seconds 10] [--warmup 2] [--patients 1]
/// `run` sends copies of the 1.1 KB benchmark ADT^A01 (each with its own MSH-10) over N connections for a fixed
/// time and prints one line: connections, window, msgs/s, ACK latency p50/p99 (ms). `--patients K` spreads the messages
/// over K patients in turn (PID-3's MRN, and the account number that starts with it, rewritten at the same length, so
/// every message stays 1.1 KB); the default, 1, sends every message for the same patient, whose messages a sink must
/// deliver one after another.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        string mode = args.Length > 0 ? args[0] : "help";
        int Arg(string name, int fallback) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length
            ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        switch (mode)
        {
            case "baseline":
                await BaselineServer.RunAsync(Arg("--port", 0), Array.IndexOf(args, "--durable") is int d and >= 0 && d + 1 < args.Length ? args[d + 1] : null, stop.Token);
                return 0;
            case "run":
                await RunAsync(Arg("--port", 2575), Arg("--connections", 1), Arg("--window", 1), Arg("--seconds", 10), Arg("--warmup", 2), Arg("--patients", 1));
                return 0;
            case "fhir-post":
                string Text(string name) => Array.IndexOf(args, name) is int t and >= 0 && t + 1 < args.Length ? args[t + 1] : throw new ArgumentException(name + " is required");
                await FhirPost.RunAsync(new Uri(Text("--url")), Text("--file"), Arg("--concurrency", 1), Text("--client"), Arg("--count", 2000));
                return 0;
            default:
                Console.Error.WriteLine("usage: loadgen baseline [--port 0] [--durable FILE] | loadgen run --port P [--connections 1] [--window 1] [--seconds 10] [--warmup 2] [--patients 1]"
                    + " | loadgen fhir-post --url U --file BUNDLES.ndjson --client raw|sink [--concurrency 1] [--count 2000]");
                return 2;
        }
    }

    private static async Task RunAsync(int port, int connections, int window, int seconds, int warmup, int patients)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(patients, 1, "--patients");
        string template = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "adt_a01.hl7"), Encoding.ASCII);
        const string controlId = "MSG00001";
        const string mrn = "PATID1234"; // PID-3's MRN, the patient key (PID-18's account number starts with it)
        if (!template.Contains(mrn + "^", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("The benchmark message has no MRN " + mrn);
        }

        long sequence = 0;
        // Control ids unique across runs: the engine recognises a repeated MSH-3/4/10 with the same content as a resend.
        string run = Convert.ToHexStringLower(BitConverter.GetBytes(Environment.TickCount64 ^ Environment.ProcessId))[..8];
        var latencies = new List<double>[connections];
        var clock = Stopwatch.StartNew();
        TimeSpan measureFrom = TimeSpan.FromSeconds(warmup);
        TimeSpan until = TimeSpan.FromSeconds(warmup + seconds);
        long measured = 0;
        long firstSend = 0; // Unix milliseconds of the first frame sent: when the measured system's work began
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async c =>
        {
            latencies[c] = [];
            await using var sender = new MllpSender(new MllpSenderOptions { Host = "127.0.0.1", Port = port, Window = window, MaxRetries = 0 });
            await Task.WhenAll(Enumerable.Range(0, window).Select(async _ =>
            {
                while (clock.Elapsed < until)
                {
                    long number = Interlocked.Increment(ref sequence);
                    string id = "L" + run + "-" + number.ToString(CultureInfo.InvariantCulture);
                    string text = template.Replace(controlId, id, StringComparison.Ordinal);
                    if (patients > 1)
                    {
                        // P and eight digits: as long as PATID1234, so the message keeps its size.
                        text = text.Replace(mrn, "P" + (number % patients).ToString("D8", CultureInfo.InvariantCulture), StringComparison.Ordinal);
                    }

                    byte[] message = Encoding.ASCII.GetBytes(text);
                    TimeSpan sentAt = clock.Elapsed;
                    if (Volatile.Read(ref firstSend) == 0)
                    {
                        Interlocked.CompareExchange(ref firstSend, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 0);
                    }
                    SendResult result = await sender.SendAsync(message, CancellationToken.None);
                    if (result.Disposition != AckDisposition.Success)
                    {
                        throw new InvalidOperationException($"{result.Code} for {id}");
                    }

                    if (sentAt >= measureFrom && clock.Elapsed < until)
                    {
                        Interlocked.Increment(ref measured);
                        lock (latencies[c])
                        {
                            latencies[c].Add(result.Latency.TotalMilliseconds);
                        }
                    }
                }
            }));
        }));

        double[] all = [.. latencies.SelectMany(l => l).Order()];
        double P(double p) => all.Length == 0 ? double.NaN : all[Math.Min(all.Length - 1, (int)Math.Ceiling(p * all.Length) - 1)];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"connections {connections}  window {window}  {measured / (double)seconds:0} msgs/s  p50 {P(0.5):0.000} ms  p99 {P(0.99):0.000} ms  ({measured} in {seconds} s; first frame sent at unix {firstSend / 1000.0:0.000})"));
    }
}
