using System.Net;
using System.Text;
using StreamEngine.Sinks.Fhir;

namespace StreamEngine.Sinks.Tests;

public sealed class FhirRestClientTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("se-fhirclient-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class Script(params Func<HttpRequestMessage, HttpResponseMessage>[] answers) : HttpMessageHandler
    {
        public List<HttpRequestMessage> Seen { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Seen.Add(request);
            return Task.FromResult(answers[Math.Min(Seen.Count - 1, answers.Length - 1)](request));
        }
    }

    private static HttpResponseMessage Status(HttpStatusCode code, string? body = null) =>
        new(code) { Content = new StringContent(body ?? "{}", Encoding.UTF8, "application/fhir+json") };

    private static FhirSinkOptions Options(FhirAuthKind auth = FhirAuthKind.None, SecretSource? secret = null) => new()
    {
        BaseUrl = new Uri("http://127.0.0.1:9/fhir/"),
        MaxAttempts = 3,
        Auth = auth,
        Secret = secret,
        UserName = "engine",
    };

    [Fact]
    public async Task Rejection_IsReportedByStatusIssueCodeAndPath_NeverByItsText()
    {
        var handler = new Script(_ => Status(HttpStatusCode.UnprocessableEntity,
            """{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invariant","diagnostics":"TAYLOR is not allowed","expression":["Patient.name[0].family"]}]}"""));
        using var client = new FhirRestClient(Options(), handler, (_, _) => Task.CompletedTask);
        FhirPostResult result = await client.PostAsync("{}"u8.ToArray(), "ingest/x#1", "MSG1", CancellationToken.None);
        Assert.True(result.Rejected);
        Assert.Equal("Http422:invariant@Patient.name[0].family", result.Reason);
        Assert.Single(handler.Seen); // never retried
        Assert.Equal("ingest/x#1", handler.Seen[0].Headers.GetValues("X-Request-ID").Single());
        Assert.Equal("MSG1", handler.Seen[0].Headers.GetValues("X-Correlation-ID").Single());
    }

    [Fact]
    public async Task ServerErrors_AreRetried_HonouringRetryAfter_ThenDelivered()
    {
        var delays = new List<TimeSpan>();
        var handler = new Script(
            _ => { var r = Status(HttpStatusCode.ServiceUnavailable); r.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(2)); return r; },
            _ => Status(HttpStatusCode.TooManyRequests),
            _ => Status(HttpStatusCode.OK));
        using var client = new FhirRestClient(Options(), handler, (d, _) => { delays.Add(d); return Task.CompletedTask; });
        FhirPostResult result = await client.PostAsync("{}"u8.ToArray(), "r", null, CancellationToken.None);
        Assert.True(result.Delivered);
        Assert.Equal(3, handler.Seen.Count);
        Assert.Equal(TimeSpan.FromSeconds(2), delays[0]); // Retry-After
        Assert.InRange(delays[1], TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(1200)); // backoff with jitter
    }

    [Fact]
    public async Task ConnectionErrorsAndRefusedCredentials_AreNeverQuarantined_ButThrown()
    {
        var down = new Script(_ => throw new HttpRequestException(HttpRequestError.ConnectionError, "refused"));
        using (var client = new FhirRestClient(Options(), down, (_, _) => Task.CompletedTask))
        {
            var e = await Assert.ThrowsAsync<FhirServerUnavailableException>(() => client.PostAsync("{}"u8.ToArray(), "r", null, CancellationToken.None));
            Assert.Contains("after 3 tries", e.Message, StringComparison.Ordinal);
        }

        var unauthorised = new Script(_ => Status(HttpStatusCode.Unauthorized));
        using (var client = new FhirRestClient(Options(), unauthorised, (_, _) => Task.CompletedTask))
        {
            var e = await Assert.ThrowsAsync<FhirServerUnavailableException>(() => client.PostAsync("{}"u8.ToArray(), "r", null, CancellationToken.None));
            Assert.Contains("credentials refused", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AServerThatResetsWhileTheBundleIsSent_IsReportedByTheSocketsError_NotAsUnknown()
    {
        // A real loopback server that reads the start of each request and resets the connection (a server killed
        // mid-request): the handler calls that HttpRequestError.Unknown; the operator is told what the socket saw.
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var stop = new CancellationTokenSource();
        Task server = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            while (!stop.IsCancellationRequested)
            {
                using System.Net.Sockets.TcpClient peer = await listener.AcceptTcpClientAsync(stop.Token);
                try
                {
                    _ = await peer.GetStream().ReadAsync(buffer, stop.Token);
                }
                catch (IOException)
                {
                    // the client gave up first: nothing to reset
                }

                peer.Client.LingerState = new System.Net.Sockets.LingerOption(true, 0); // close with a reset
            }
        });
        FhirSinkOptions options = Options() with { BaseUrl = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/fhir/") };
        using var client = new FhirRestClient(options, delay: (_, _) => Task.CompletedTask);

        // Far more than the loopback socket buffers hold, so the reset always lands while the body is still going out.
        var e = await Assert.ThrowsAsync<FhirServerUnavailableException>(() => client.PostAsync(new byte[16 << 20], "r", null, CancellationToken.None));
        Assert.Contains("after 3 tries (connection: ", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Unknown", e.Message, StringComparison.Ordinal);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => server);
    }

    [Fact]
    public async Task ARedirectAWrongUrlOrAnOddBody_IsNeverTakenForDeliveryNorBlamedOnTheMessage()
    {
        foreach (HttpStatusCode code in new[] { HttpStatusCode.MovedPermanently, HttpStatusCode.NotFound, HttpStatusCode.MethodNotAllowed, HttpStatusCode.Conflict })
        {
            using var client = new FhirRestClient(Options(), new Script(_ => Status(code)), (_, _) => Task.CompletedTask);
            await Assert.ThrowsAsync<FhirServerUnavailableException>(() => client.PostAsync("{}"u8.ToArray(), "r", null, CancellationToken.None));
        }

        using var odd = new FhirRestClient(Options(), new Script(_ => Status(HttpStatusCode.BadRequest, """["bad request", 9434765919]""")), (_, _) => Task.CompletedTask);
        Assert.Equal("Http400", (await odd.PostAsync("{}"u8.ToArray(), "r", null, CancellationToken.None)).Reason);

        using var quoted = new FhirRestClient(Options(), new Script(_ => Status(HttpStatusCode.UnprocessableEntity,
            """{"resourceType":"OperationOutcome","issue":[{"code":"duplicate","expression":["Patient?identifier=nhs|9434765919"]}]}""")), (_, _) => Task.CompletedTask);
        string reason = (await quoted.PostAsync("{}"u8.ToArray(), "r", null, CancellationToken.None)).Reason!;
        Assert.DoesNotContain("9434", reason, StringComparison.Ordinal); // a quoted identifier never reaches a reason
    }

    [Fact]
    public async Task Batch_IsDeliveredOnlyWhenEveryEntryIs()
    {
        const string failed = """{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"201 Created"}},{"response":{"status":"422","outcome":{"resourceType":"OperationOutcome","issue":[{"code":"invariant"}]}}}]}""";
        const string ok = """{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"200 OK"}},{"response":{"status":"201"}}]}""";
        using var rejected = new FhirRestClient(Options() with { Batch = true }, new Script(_ => Status(HttpStatusCode.OK, failed)), (_, _) => Task.CompletedTask);
        FhirPostResult result = await rejected.PostAsync("{}"u8.ToArray(), "r", null, CancellationToken.None);
        Assert.True(result.Rejected);
        Assert.Equal("BatchEntryHttp422:invariant", result.Reason);
        using var delivered = new FhirRestClient(Options() with { Batch = true }, new Script(_ => Status(HttpStatusCode.OK, ok)), (_, _) => Task.CompletedTask);
        Assert.True((await delivered.PostAsync("{}"u8.ToArray(), "r", null, CancellationToken.None)).Delivered);
    }

    [Fact]
    public async Task ApiKeyAndBasic_ComeFromTheSecretFile_ReReadWhenItChanges()
    {
        string keyFile = Path.Combine(_dir, "key");
        await File.WriteAllTextAsync(keyFile, "first-key\n");
        var handler = new Script(_ => Status(HttpStatusCode.OK));
        var secret = SecretSource.FromFile(keyFile);
        using var client = new FhirRestClient(Options(FhirAuthKind.ApiKey, secret) with { ApiKeyPrefix = "Key " }, handler, (_, _) => Task.CompletedTask);
        await client.PostAsync("{}"u8.ToArray(), "r1", null, CancellationToken.None);
        await File.WriteAllTextAsync(keyFile, "rotated-key-with-another-length");
        File.SetLastWriteTimeUtc(keyFile, DateTime.UtcNow.AddSeconds(5));
        await client.PostAsync("{}"u8.ToArray(), "r2", null, CancellationToken.None);
        Assert.Equal("Key first-key", handler.Seen[0].Headers.GetValues("X-API-Key").Single());
        Assert.Equal("Key rotated-key-with-another-length", handler.Seen[1].Headers.GetValues("X-API-Key").Single());
        Assert.DoesNotContain("key", secret.ToString().Replace(keyFile, string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);

        using var basic = new FhirRestClient(Options(FhirAuthKind.Basic, secret), handler, (_, _) => Task.CompletedTask);
        await basic.PostAsync("{}"u8.ToArray(), "r3", null, CancellationToken.None);
        Assert.Equal("Basic", handler.Seen[2].Headers.Authorization!.Scheme);
        Assert.Equal("engine:rotated-key-with-another-length", Encoding.UTF8.GetString(Convert.FromBase64String(handler.Seen[2].Headers.Authorization!.Parameter!)));
    }
}
