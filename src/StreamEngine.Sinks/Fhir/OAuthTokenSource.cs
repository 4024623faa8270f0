using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace StreamEngine.Sinks.Fhir;

/// <summary>
/// OAuth 2.0 client credentials: an access token from the token endpoint, authenticated with a client secret or with a
/// client assertion (a JWT signed RS512 with the client's RSA private key, as NHS England's APIs ask), cached and
/// renewed before it expires (a quarter of its life, at most a minute, before). Secrets are read from their source on
/// every token request, so a rotated file is used from the next renewal; a 401 drops the cached token.
/// </summary>
public sealed class OAuthTokenSource(FhirSinkOptions options, HttpMessageHandler handler)
{
    private readonly HttpClient _http = new(handler, disposeHandler: false) { Timeout = TimeSpan.FromSeconds(30) };
    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _token;
    private DateTimeOffset _renewAt;

    /// <summary>A valid access token, renewed when due.</summary>
    public async Task<string> GetAsync(CancellationToken cancellationToken)
    {
        if (_token is { } cached && DateTimeOffset.UtcNow < _renewAt)
        {
            return cached;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_token is { } fresh && DateTimeOffset.UtcNow < _renewAt)
            {
                return fresh;
            }

            (_token, TimeSpan lifetime) = await RequestAsync(cancellationToken);
            TimeSpan margin = TimeSpan.FromTicks(Math.Min(lifetime.Ticks / 4, TimeSpan.FromMinutes(1).Ticks));
            _renewAt = DateTimeOffset.UtcNow + lifetime - margin;
            return _token;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Forgets the cached token (the server refused it).</summary>
    public void Invalidate() => _token = null;

    private async Task<(string Token, TimeSpan Lifetime)> RequestAsync(CancellationToken cancellationToken)
    {
        var form = new List<KeyValuePair<string, string>>
        {
            new("grant_type", "client_credentials"),
            new("client_id", options.ClientId!),
        };
        if (options.Scope is { } scope)
        {
            form.Add(new("scope", scope));
        }

        if (options.PrivateKey is { } key)
        {
            form.Add(new("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
            form.Add(new("client_assertion", Assertion(key.Value)));
        }
        else
        {
            form.Add(new("client_secret", options.Secret!.Value));
        }

        using var content = new FormUrlEncodedContent(form);
        using HttpResponseMessage response = await _http.PostAsync(options.TokenUrl, content, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            // The token endpoint's status only: its body could echo what was sent.
            throw new FhirServerUnavailableException($"token endpoint {options.TokenUrl!.GetLeftPart(UriPartial.Authority)} answered HTTP {(int)response.StatusCode}");
        }

        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        if (!body.RootElement.TryGetProperty("access_token", out JsonElement token) || token.ValueKind != JsonValueKind.String)
        {
            throw new FhirServerUnavailableException("token endpoint answered without an access_token");
        }

        int seconds = body.RootElement.TryGetProperty("expires_in", out JsonElement e) && e.TryGetInt32(out int s) && s > 0 ? s : 300;
        return (token.GetString()!, TimeSpan.FromSeconds(seconds));
    }

    // RFC 7523 client assertion: iss = sub = client id, aud = the token endpoint, a unique jti, five minutes' life.
    private string Assertion(string privateKeyPem)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string header = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["alg"] = "RS512",
            ["typ"] = "JWT",
            ["kid"] = options.KeyId ?? "streamengine",
        });
        string payload = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["iss"] = options.ClientId!,
            ["sub"] = options.ClientId!,
            ["aud"] = options.TokenUrl!.AbsoluteUri,
            ["jti"] = Guid.NewGuid().ToString("D"),
            ["iat"] = now,
            ["exp"] = now + 300,
        });
        string signingInput = Base64Url(Encoding.UTF8.GetBytes(header)) + "." + Base64Url(Encoding.UTF8.GetBytes(payload));
        using var rsa = RSA.Create();
        rsa.ImportFromPem(privateKeyPem);
        byte[] signature = rsa.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA512, RSASignaturePadding.Pkcs1);
        return signingInput + "." + Base64Url(signature);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
