using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using StreamEngine.Hl7v2;
using StreamEngine.TestKit;

namespace StreamEngine.IntegrationTests;

/// <summary>The FHIR sink over mutual TLS: the test FHIR host (HTTPS) requires a client certificate from a test CA.</summary>
public sealed class FhirMutualTlsTests
{
    [SkippableFact]
    public async Task ClientCertificate_IsPresented_AndTheServerIsCheckedAgainstTheConfiguredCa()
    {
        using var folder = new TestFolder();
        using var certificates = new TestCertificates(Path.Combine(folder.Path, "pki"));
        certificates.Server("server");
        using X509Certificate2 client = certificates.Client("engine", "CN=streamengine");
        (PeerProcess server, HttpClient plain) = await FhirServerTests.StartServerAsync(new Dictionary<string, string>
        {
            ["FHIR_TLS_CERT"] = certificates.CertFile("server"), ["FHIR_TLS_KEY"] = certificates.KeyFile("server"), ["FHIR_TLS_CA"] = certificates.CaFile,
        });
        await using PeerProcess serverLifetime = server;
        plain.Dispose();
        var baseUrl = new Uri($"https://127.0.0.1:{plain.BaseAddress!.Port}/");

        // Without a client certificate the server refuses the handshake.
        using (var anonymous = new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, c, _, e) => certificates.Trusts(c, e) } }) { BaseAddress = baseUrl })
        {
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => anonymous.GetStringAsync("Patient"));
        }

        await File.WriteAllTextAsync(Path.Combine(folder.Path, "streamengine.json"), JsonSerializer.Serialize(new
        {
            dataDirectory = Path.Combine(folder.Path, "data"),
            listeners = new[] { new { name = "it", host = "127.0.0.1", port = 0 } },
            sinks = new[]
            {
                new
                {
                    name = "server", type = "fhir", baseUrl = baseUrl.AbsoluteUri,
                    tls = new { clientCertificateFile = certificates.CertFile("engine"), clientKeyFile = certificates.KeyFile("engine"), caFile = certificates.CaFile },
                },
            },
        }));
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        List<Hl7Message> acks = await Peers.SendAsync(engine.Port, Enumerable.Range(0, 3).Select(i => Peers.Adt("A01", $"TLS-{i}", $"T{i}", visit: $"TV{i}")));
        Assert.All(acks, a => Assert.Equal("AA", a.Get("MSA-1")));

        using var reader = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = { ClientCertificates = [client], RemoteCertificateValidationCallback = (_, c, _, e) => certificates.Trusts(c, e) },
        }) { BaseAddress = baseUrl };
        int count = 0;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (count < 3 && !deadline.IsCancellationRequested)
        {
            using JsonDocument total = JsonDocument.Parse(await reader.GetStringAsync("Provenance?_summary=count"));
            count = total.RootElement.GetProperty("total").GetInt32();
            if (count < 3)
            {
                await Task.Delay(100, CancellationToken.None);
            }
        }

        Assert.Equal(3, count);
        Assert.Equal(0, await engine.StopAsync());
    }
}
