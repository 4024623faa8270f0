namespace StreamEngine.Sinks.Fhir;

/// <summary>How a FHIR sink authenticates to its server.</summary>
public enum FhirAuthKind
{
    /// <summary>No credentials.</summary>
    None,

    /// <summary>An API key in a header (e.g. <c>X-API-Key</c>, or <c>Authorization</c> with a prefix).</summary>
    ApiKey,

    /// <summary>HTTP basic: a user name and a password.</summary>
    Basic,

    /// <summary>OAuth 2.0 client credentials (client secret or signed JWT client assertion): a bearer token.</summary>
    OAuth,
}

/// <summary>A FHIR REST sink's settings (validated by the host's settings loader).</summary>
public sealed record FhirSinkOptions
{
    /// <summary>The server's base URL; bundles are POSTed to it.</summary>
    public required Uri BaseUrl { get; init; }

    /// <summary>One request's timeout.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Send bundles as <c>transaction</c> (all or nothing, the default) or <c>batch</c> (entry by entry).</summary>
    public bool Batch { get; init; }

    /// <summary>Tries per bundle before the sink gives up for now (it then restarts with backoff and tries again).</summary>
    public int MaxAttempts { get; init; } = 4;

    /// <summary>
    /// Connections to the server at most: as many as requests the sink may have in flight (its lanes on every stream),
    /// so that no request waits for a connection while its timeout runs.
    /// </summary>
    public int MaxConnections { get; init; } = 8;

    /// <summary>First retry delay; doubled per attempt, capped by <see cref="MaxRetryDelay"/>, with jitter.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest wait between tries (a longer Retry-After is capped to it).</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Credentials.</summary>
    public FhirAuthKind Auth { get; init; } = FhirAuthKind.None;

    /// <summary>The API key header (default <c>X-API-Key</c>).</summary>
    public string ApiKeyHeader { get; init; } = "X-API-Key";

    /// <summary>Text before the key in the header (e.g. <c>Bearer </c>), if any.</summary>
    public string? ApiKeyPrefix { get; init; }

    /// <summary>The API key or the basic password.</summary>
    public SecretSource? Secret { get; init; }

    /// <summary>The basic user name.</summary>
    public string? UserName { get; init; }

    /// <summary>OAuth: the token endpoint.</summary>
    public Uri? TokenUrl { get; init; }

    /// <summary>OAuth: the client id.</summary>
    public string? ClientId { get; init; }

    /// <summary>OAuth: the scope asked for, if any.</summary>
    public string? Scope { get; init; }

    /// <summary>OAuth with a signed client assertion: the RSA private key (PEM); else <see cref="Secret"/> is the client secret.</summary>
    public SecretSource? PrivateKey { get; init; }

    /// <summary>OAuth: the key id (JWT <c>kid</c>) of <see cref="PrivateKey"/>.</summary>
    public string? KeyId { get; init; }

    /// <summary>Mutual TLS: the client certificate (with its key) presented to the server.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? ClientCertificate { get; init; }

    /// <summary>The CA the server's certificate must chain to (instead of the system's roots), if any.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? TrustedCa { get; init; }
}
