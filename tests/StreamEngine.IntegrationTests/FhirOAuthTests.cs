using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using StreamEngine.Hl7v2;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// The FHIR sink with OAuth 2.0 client credentials against the test FHIR host's own token endpoint: tokens that live
/// one second are renewed before they expire (the server never answers 401), a rotated client secret file is used
/// without a restart, and a signed JWT client assertion (RS512) works as NHS England's APIs ask.
/// </summary>
public sealed class FhirOAuthTests
{
    private static async Task<JsonElement> StateAsync(HttpClient http) =>
        JsonDocument.Parse(await http.GetStringAsync("$oauth")).RootElement.Clone();

    private static async Task<int> CountAsync(HttpClient http, string secretFile, string type)
    {
        // The test reads through the server's API with a token of its own.
        using var form = new FormUrlEncodedContent([new("grant_type", "client_credentials"), new("client_id", "engine"),
            new("client_secret", (await File.ReadAllTextAsync(secretFile)).Trim())]);
        using HttpResponseMessage tokenResponse = await http.PostAsync("token", form);
        string token = JsonDocument.Parse(await tokenResponse.Content.ReadAsStringAsync()).RootElement.GetProperty("access_token").GetString()!;
        using var request = new HttpRequestMessage(HttpMethod.Get, type + "?_summary=count");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using HttpResponseMessage response = await http.SendAsync(request);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("total").GetInt32();
    }

    private static async Task<EngineProcess> StartEngineAsync(TestFolder folder, Uri server, object auth)
    {
        await File.WriteAllTextAsync(Path.Combine(folder.Path, "streamengine.json"), JsonSerializer.Serialize(new
        {
            dataDirectory = Path.Combine(folder.Path, "data"),
            listeners = new[] { new { name = "it", host = "127.0.0.1", port = 0 } },
            sinks = new[] { new { name = "server", type = "fhir", baseUrl = server.AbsoluteUri, auth } },
            store = new { durability = "os" },
        }));
        return await EngineProcess.StartAsync(folder.Path);
    }

    [SkippableFact]
    public async Task ClientSecret_TokensRenewedBeforeExpiry_AndARotatedSecretFileIsUsedWithoutARestart()
    {
        using var folder = new TestFolder();
        string secretFile = Path.Combine(folder.Path, "client.secret");
        await File.WriteAllTextAsync(secretFile, "first-secret\n");
        (PeerProcess server, HttpClient http) = await FhirServerTests.StartServerAsync(new Dictionary<string, string>
        {
            ["FHIR_OAUTH_CLIENT_ID"] = "engine", ["FHIR_OAUTH_SECRET_FILE"] = secretFile, ["FHIR_OAUTH_TTL"] = "1",
        });
        await using PeerProcess serverLifetime = server;
        using HttpClient httpLifetime = http;
        await using EngineProcess engine = await StartEngineAsync(folder, http.BaseAddress!,
            new { type = "oauth", tokenUrl = new Uri(http.BaseAddress!, "token").AbsoluteUri, clientId = "engine", secretFile });

        int sent = 0;
        async Task SendAsync(int count)
        {
            var messages = Enumerable.Range(sent, count).Select(i => Peers.Adt("A08", $"OA-{i:D3}", $"M{i % 5}", visit: $"V{i % 5}")).ToList();
            sent += count;
            Assert.All(await Peers.SendAsync(engine.Port, messages), a => Assert.Equal("AA", a.Get("MSA-1")));
        }

        await SendAsync(10);
        using (var firstToken = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            // The engine's first token (with the first secret) before the rotation: a probe of the server's counters.
            while ((await StateAsync(http)).GetProperty("issued").GetInt32() < 1 && !firstToken.IsCancellationRequested)
            {
                await Task.Delay(50, CancellationToken.None);
            }
        }

        await File.WriteAllTextAsync(secretFile, "rotated-secret\n"); // the server and the engine read the same file

        // Keep traffic flowing until a token has been renewed with the new secret (a probe, bounded).
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while ((await StateAsync(http)).GetProperty("secrets").GetInt32() < 2 && !deadline.IsCancellationRequested)
        {
            await SendAsync(1);
        }

        using var delivered = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await CountAsync(http, secretFile, "Provenance") < sent && !delivered.IsCancellationRequested)
        {
            await Task.Delay(100, CancellationToken.None);
        }

        JsonElement state = await StateAsync(http);
        Assert.Equal(sent, await CountAsync(http, secretFile, "Provenance"));
        Assert.Equal(2, state.GetProperty("secrets").GetInt32());
        Assert.True(state.GetProperty("issued").GetInt32() > 2, "tokens were not renewed");
        Assert.Equal(0, state.GetProperty("unauthorized").GetInt32()); // renewed before expiry, every time
        Assert.DoesNotContain("rotated-secret", engine.Logs, StringComparison.Ordinal);
        Assert.DoesNotContain("first-secret", engine.Logs, StringComparison.Ordinal);
        Assert.Equal(0, await engine.StopAsync());
    }

    [SkippableFact]
    public async Task SignedJwtClientAssertion_IsAccepted()
    {
        using var folder = new TestFolder();
        using var rsa = RSA.Create(2048);
        string privateKey = Path.Combine(folder.Path, "client.key");
        string publicKey = Path.Combine(folder.Path, "client.pub");
        string secretFile = Path.Combine(folder.Path, "test-reader.secret"); // for the test's own searches
        await File.WriteAllTextAsync(privateKey, rsa.ExportPkcs8PrivateKeyPem());
        await File.WriteAllTextAsync(publicKey, rsa.ExportSubjectPublicKeyInfoPem());
        await File.WriteAllTextAsync(secretFile, "reader");
        (PeerProcess server, HttpClient http) = await FhirServerTests.StartServerAsync(new Dictionary<string, string>
        {
            ["FHIR_OAUTH_CLIENT_ID"] = "engine", ["FHIR_OAUTH_PUBLIC_KEY_FILE"] = publicKey, ["FHIR_OAUTH_SECRET_FILE"] = secretFile,
        });
        await using PeerProcess serverLifetime = server;
        using HttpClient httpLifetime = http;
        await using EngineProcess engine = await StartEngineAsync(folder, http.BaseAddress!,
            new { type = "oauth", tokenUrl = new Uri(http.BaseAddress!, "token").AbsoluteUri, clientId = "engine", privateKeyFile = privateKey, keyId = "test-1" });

        List<Hl7Message> acks = await Peers.SendAsync(engine.Port, Enumerable.Range(0, 5).Select(i => Peers.Adt("A01", $"JW-{i}", $"J{i}", visit: $"JV{i}")));
        Assert.All(acks, a => Assert.Equal("AA", a.Get("MSA-1")));
        using var delivered = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await CountAsync(http, secretFile, "Provenance") < 5 && !delivered.IsCancellationRequested)
        {
            await Task.Delay(100, CancellationToken.None);
        }

        Assert.Equal(5, await CountAsync(http, secretFile, "Provenance"));
        Assert.True((await StateAsync(http)).GetProperty("assertions").GetInt32() >= 1);
        Assert.Equal(0, await engine.StopAsync());
    }
}
