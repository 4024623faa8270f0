using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace StreamEngine.Sinks.Fhir;

/// <summary>What became of one bundle at the server.</summary>
/// <param name="Delivered">2xx.</param>
/// <param name="Rejected">A 4xx other than 408/429: the server will never take it; <paramref name="Reason"/> says why.</param>
/// <param name="Reason">For a rejection: status and the OperationOutcome's issue codes and paths (never its text).</param>
public readonly record struct FhirPostResult(bool Delivered, bool Rejected, string? Reason);

/// <summary>The server could not be reached or kept failing (5xx, 429, 408, timeouts, connection errors).</summary>
public sealed class FhirServerUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// POSTs transaction (or batch) bundles to one FHIR server over pooled keep-alive connections, retrying what a retry
/// may cure with capped exponential backoff and jitter (honouring Retry-After), and classifying the rest. Bodies,
/// URLs with queries and OperationOutcome texts never reach exceptions or reasons: only status codes, issue codes
/// and element paths.
/// </summary>
public sealed class FhirRestClient : IDisposable
{
    private readonly FhirSinkOptions _options;
    private readonly HttpClient _http;
    private readonly Func<TimeSpan, CancellationToken, Task> _delay;
    private readonly OAuthTokenSource? _tokens;

    /// <summary>Creates the client (one per sink).</summary>
    public FhirRestClient(FhirSinkOptions options, HttpMessageHandler? handler = null, Func<TimeSpan, CancellationToken, Task>? delay = null)
    {
        _options = options;
        _delay = delay ?? Task.Delay;
        handler ??= CreateHandler(options);
        _http = new HttpClient(handler) { BaseAddress = options.BaseUrl, Timeout = Timeout.InfiniteTimeSpan };
        _tokens = options.Auth == FhirAuthKind.OAuth ? new OAuthTokenSource(options, handler) : null;
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/fhir+json"));
    }

    /// <summary>
    /// Sends one bundle, trying up to <see cref="FhirSinkOptions.MaxAttempts"/> times. Returns delivered or rejected;
    /// throws <see cref="FhirServerUnavailableException"/> when every try failed in a way a later try may cure.
    /// </summary>
    public async Task<FhirPostResult> PostAsync(byte[] bundle, string requestId, string? correlationId, CancellationToken cancellationToken)
    {
        TimeSpan wait = _options.RetryDelay;
        string last = "no attempt";
        Exception? lastError = null;
        bool refreshed = false;
        for (int attempt = 1; attempt <= Math.Max(1, _options.MaxAttempts); attempt++)
        {
            TimeSpan? retryAfter = null;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, string.Empty) { Content = new ByteArrayContent(bundle) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/fhir+json") { CharSet = "utf-8" };
                request.Headers.TryAddWithoutValidation("X-Request-ID", requestId);
                if (correlationId is not null)
                {
                    request.Headers.TryAddWithoutValidation("X-Correlation-ID", correlationId);
                }

                Authenticate(request);
                if (_tokens is not null)
                {
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await _tokens.GetAsync(cancellationToken));
                }

                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_options.Timeout);
                using HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token);
                int status = (int)response.StatusCode;
                if (response.IsSuccessStatusCode)
                {
                    if (!_options.Batch)
                    {
                        return new FhirPostResult(true, false, null);
                    }

                    // A batch answers 200 whatever its entries did: each entry's own status decides.
                    (int worst, string? reason) = BatchEntries(await response.Content.ReadAsStringAsync(cancellationToken));
                    if (worst < 400)
                    {
                        return new FhirPostResult(true, false, null);
                    }

                    if (worst is >= 400 and < 500 && worst is not (408 or 409 or 412 or 429))
                    {
                        return new FhirPostResult(false, true, reason);
                    }

                    last = $"batch entry HTTP {worst}";
                }
                else if (status is 401 or 403 or 404 or 405 or 415 || status is >= 300 and < 400)
                {
                    // The configuration, not the message: credentials refused (the secret is read again on the next try,
                    // so a rotated file is picked up), a wrong base URL or a redirect. Never quarantined: the sink waits
                    // and retries until it is fixed.
                    last = status is 401 or 403 ? $"HTTP {status} (credentials refused)" : $"HTTP {status} (check baseUrl)";
                    if (status == 401 && _tokens is not null)
                    {
                        // One immediate retry with a fresh token (it may have been revoked or rotated early).
                        _tokens.Invalidate();
                        if (!refreshed)
                        {
                            refreshed = true;
                            attempt--;
                            continue;
                        }
                    }
                }
                else if (status is >= 400 and < 500 && status is not (408 or 409 or 412 or 429))
                {
                    string body = await response.Content.ReadAsStringAsync(cancellationToken);
                    return new FhirPostResult(false, true, $"Http{status}{Issues(body)}");
                }
                else
                {
                    last = $"HTTP {status}";
                    retryAfter = RetryAfter(response);
                }
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                last = "timeout";
                lastError = e;
            }
            catch (Exception e) when (e is HttpRequestException or System.Net.Sockets.SocketException)
            {
                // A socket error can also escape the handler bare (a peer that resets right after the connect).
                last = "connection: " + ConnectionFailure(e);
                lastError = e;
            }

            if (attempt < _options.MaxAttempts)
            {
                TimeSpan delay = retryAfter ?? Jitter(wait);
                await _delay(delay > _options.MaxRetryDelay ? _options.MaxRetryDelay : delay, cancellationToken);
                wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, _options.MaxRetryDelay.Ticks));
            }
        }

        throw new FhirServerUnavailableException($"FHIR server {_options.BaseUrl.GetLeftPart(UriPartial.Authority)} unavailable after {_options.MaxAttempts} tries ({last})", lastError);
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    /// <summary>
    /// Why a request never got an answer, as a code an operator can act on: the handler's own category when it has one
    /// (<c>ConnectionError</c>: refused or unreachable, <c>ResponseEnded</c>, <c>SecureConnectionError</c>, ...), else
    /// the socket's error (a server that went away while the bundle was being sent is <c>Unknown</c> to the handler,
    /// <c>ConnectionReset</c> or <c>Shutdown</c> to the socket).
    /// </summary>
    private static string ConnectionFailure(Exception e)
    {
        if (e is HttpRequestException { HttpRequestError: not HttpRequestError.Unknown and var category })
        {
            return category.ToString();
        }

        for (Exception? cause = e; cause is not null; cause = cause.InnerException)
        {
            switch (cause)
            {
                case HttpIOException { HttpRequestError: not HttpRequestError.Unknown and var io }:
                    return io.ToString();
                case System.Net.Sockets.SocketException socket:
                    return socket.SocketErrorCode.ToString();
                case System.Security.Authentication.AuthenticationException:
                    return nameof(HttpRequestError.SecureConnectionError);
            }
        }

        return e.InnerException is IOException ? "IOException" : nameof(HttpRequestError.Unknown);
    }

    private static SocketsHttpHandler CreateHandler(FhirSinkOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            MaxConnectionsPerServer = Math.Max(1, options.MaxConnections),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            AllowAutoRedirect = false, // a redirect would turn the POST into a GET (and forward the API key elsewhere)
        };
        if (options.ClientCertificate is { } certificate)
        {
            handler.SslOptions.ClientCertificates = [certificate];
        }

        if (options.TrustedCa is { } ca)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, errors) =>
            {
                // The name must match the host; the chain must end at the configured CA (not the system's roots).
                if (presented is null || (errors & (System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch | System.Net.Security.SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
                {
                    return false;
                }

                using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
                chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
                return chain.Build(new System.Security.Cryptography.X509Certificates.X509Certificate2(presented));
            };
        }

        return handler;
    }

    private void Authenticate(HttpRequestMessage request)
    {
        switch (_options.Auth)
        {
            case FhirAuthKind.ApiKey:
                request.Headers.TryAddWithoutValidation(_options.ApiKeyHeader, (_options.ApiKeyPrefix ?? string.Empty) + _options.Secret!.Value);
                break;
            case FhirAuthKind.Basic:
                string pair = _options.UserName + ":" + _options.Secret!.Value;
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(pair)));
                break;
        }
    }

    private static TimeSpan Jitter(TimeSpan wait) => TimeSpan.FromTicks((long)(wait.Ticks * (0.5 + Random.Shared.NextDouble())));

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        RetryConditionHeaderValue? header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        return header?.Date is { } date ? date - DateTimeOffset.UtcNow is { Ticks: > 0 } until ? until : TimeSpan.Zero : null;
    }

    // ":code@path,code@path" from an OperationOutcome: codes and element paths only, never diagnostics or text.
    private static string Issues(string body)
    {
        try
        {
            using JsonDocument outcome = JsonDocument.Parse(body);
            return Issues(outcome.RootElement);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return string.Empty; // not an OperationOutcome (a gateway's HTML or array): the status says enough
        }
    }

    private static string Issues(JsonElement outcome)
    {
        if (outcome.ValueKind != JsonValueKind.Object || !outcome.TryGetProperty("issue", out JsonElement issues) || issues.ValueKind != JsonValueKind.Array)
        {
            return string.Empty;
        }

        var parts = new List<string>();
        foreach (JsonElement issue in issues.EnumerateArray().Take(5))
        {
            if (issue.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            string code = issue.TryGetProperty("code", out JsonElement c) && c.ValueKind == JsonValueKind.String ? Clean(c.GetString()!) : "unknown";
            string? path = null;
            foreach (string name in new[] { "expression", "location" })
            {
                if (path is null && issue.TryGetProperty(name, out JsonElement p) && p.ValueKind == JsonValueKind.Array && p.GetArrayLength() > 0
                    && p[0].ValueKind == JsonValueKind.String)
                {
                    path = p[0].GetString();
                }
            }

            parts.Add(path is null ? code : code + "@" + Clean(path));
        }

        return parts.Count == 0 ? string.Empty : ":" + string.Join(",", parts);
    }

    // The worst entry status of a batch-response and its reason.
    private static (int Worst, string? Reason) BatchEntries(string body)
    {
        try
        {
            using JsonDocument response = JsonDocument.Parse(body);
            int worst = 200;
            string? reason = null;
            if (response.RootElement.ValueKind == JsonValueKind.Object && response.RootElement.TryGetProperty("entry", out JsonElement entries) && entries.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement entry in entries.EnumerateArray())
                {
                    if (entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty("response", out JsonElement r) && r.ValueKind == JsonValueKind.Object
                        && r.TryGetProperty("status", out JsonElement s) && s.ValueKind == JsonValueKind.String
                        && int.TryParse(s.GetString()!.AsSpan(0, Math.Min(3, s.GetString()!.Length)), out int status) && status > worst)
                    {
                        worst = status;
                        reason = $"BatchEntryHttp{status}" + (r.TryGetProperty("outcome", out JsonElement o) ? Issues(o) : string.Empty);
                    }
                }
            }

            return (worst, reason);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return (502, null); // an unreadable batch-response: not known to be delivered
        }
    }

    // Paths are element paths (Patient.name[0].given); anything else is cut, and so is any run of four or more digits
    // (a quoted identifier value is never carried into a quarantine reason or a log).
    private static string Clean(string path)
    {
        var kept = new System.Text.StringBuilder(Math.Min(path.Length, 120));
        int digits = 0;
        foreach (char ch in path.Take(120))
        {
            if (!(char.IsAsciiLetterOrDigit(ch) || ch is '.' or '[' or ']' or '_' or '-'))
            {
                digits = 0;
                continue;
            }

            digits = char.IsAsciiDigit(ch) ? digits + 1 : 0;
            kept.Append(ch);
            if (digits == 4)
            {
                kept.Length -= 4;
            }
            else if (digits > 4)
            {
                kept.Length -= 1;
            }
        }

        return kept.ToString();
    }
}
