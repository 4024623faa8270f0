using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using StreamEngine.Sinks.Fhir;

namespace StreamEngine.LoadGen;

/// <summary>
/// Posts transaction bundles (one per line of an NDJSON file, repeated to <c>count</c>) to a FHIR server with N
/// concurrent workers, through the FHIR sink's client (<c>sink</c>: headers, classification, retries) or a bare
/// HttpClient loop (<c>raw</c>: the baseline), and prints bundles/s.
/// </summary>
internal static class FhirPost
{
    public static async Task RunAsync(Uri url, string file, int concurrency, string client, int count)
    {
        byte[][] bundles = File.ReadAllLines(file).Where(l => l.Length > 0).Select(System.Text.Encoding.UTF8.GetBytes).ToArray();
        using var sink = new FhirRestClient(new FhirSinkOptions { BaseUrl = url, MaxAttempts = 1 });
        using var raw = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 8 }) { BaseAddress = url };
        long next = -1;
        long failed = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            long i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                byte[] body = bundles[i % bundles.Length];
                bool ok;
                if (client == "sink")
                {
                    ok = (await sink.PostAsync(body, "bench#" + i.ToString(CultureInfo.InvariantCulture), null, CancellationToken.None)).Delivered;
                }
                else
                {
                    using var content = new ByteArrayContent(body);
                    content.Headers.ContentType = new MediaTypeHeaderValue("application/fhir+json");
                    using HttpResponseMessage response = await raw.PostAsync(string.Empty, content);
                    await response.Content.ReadAsByteArrayAsync();
                    ok = response.IsSuccessStatusCode;
                }

                if (!ok)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        }));
        double seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"client {client}  concurrency {concurrency}  bundles {count}  failed {failed}  {seconds:F2} s  {count / seconds:F0} bundles/s"));
    }
}
