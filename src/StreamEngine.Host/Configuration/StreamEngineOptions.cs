namespace StreamEngine.Host.Configuration;

// Mutable shapes for Microsoft.Extensions.Configuration binding only. Numbers are bound as strings and parsed by
// SettingsLoader, because the binder silently drops a list element whose number does not convert. They are validated and turned into the
// immutable records of StreamEngine.Pipeline by SettingsLoader; nothing else reads them.

internal sealed class StreamEngineOptions
{
    public string? DataDirectory { get; set; }

    public List<ListenerOptions>? Listeners { get; set; }

    public List<SinkOptions>? Sinks { get; set; }

    public StoreOptions? Store { get; set; }

    public DedupeOptions? Dedupe { get; set; }

    public AdminOptions? Admin { get; set; }

    public RetentionOptions? Retention { get; set; }

    public MappingOptions? Mapping { get; set; }

    public ConsentOptions? Consent { get; set; }
}

internal sealed class ConsentOptions
{
    public string? OptOutFile { get; set; }

    public string? ConsentFolder { get; set; }
}

internal sealed class MappingOptions
{
    public string? Profile { get; set; }
}

internal sealed class RetentionOptions
{
    public string? ReplayWindow { get; set; }

    public string? Interval { get; set; }
}

internal sealed class AdminOptions
{
    public string? Host { get; set; }

    public string? Port { get; set; }

    public string? TokenFile { get; set; }
}

internal sealed class DedupeOptions
{
    public string? Window { get; set; }

    public string? MaxKeys { get; set; }
}

internal sealed class ListenerOptions
{
    public string? Id { get; set; }

    public string? Name { get; set; }

    public string? Host { get; set; }

    public string? Port { get; set; }

    public string? MaxFrameBytes { get; set; }

    public string? MaxConnections { get; set; }

    public string? IdleTimeout { get; set; }

    public string? FrameTimeout { get; set; }

    public List<string>? AllowedSenders { get; set; }

    public string? MllpRelease2 { get; set; } // parsed in the loader: a bad value in a list item is named, not dropped

    public TlsOptions? Tls { get; set; }
}

internal sealed class TlsOptions
{
    public string? CertificateFile { get; set; }

    public string? KeyFile { get; set; }

    public string? PasswordFile { get; set; }

    public List<string>? ClientCertificates { get; set; }

    public string? ClientCaFile { get; set; }
}

internal sealed class SinkOptions
{
    public string? Id { get; set; }

    public string? Name { get; set; }

    public string? Type { get; set; }

    public string? Path { get; set; }

    public string? StartFrom { get; set; }

    public string? BaseUrl { get; set; }

    public string? Timeout { get; set; }

    public string? BundleType { get; set; }

    public string? MaxAttempts { get; set; }

    public FhirAuthOptions? Auth { get; set; }

    public SinkFilterOptions? Filter { get; set; }

    public string? Policy { get; set; }

    public string? Purpose { get; set; }

    public string? Host { get; set; }

    public string? Port { get; set; }

    public List<RewriteOptions>? Rewrite { get; set; }

    public List<string>? QuarantineOn { get; set; }

    public SinkTlsOptions? Tls { get; set; }

    public RotateOptions? Rotate { get; set; }

    public string? Lanes { get; set; }

    public string? MaxConcurrentRequests { get; set; }
}

internal sealed class RotateOptions
{
    public string? MaxBytes { get; set; }

    public string? MaxAge { get; set; }
}

internal sealed class SinkTlsOptions
{
    public string? ClientCertificateFile { get; set; }

    public string? ClientKeyFile { get; set; }

    public string? CaFile { get; set; }
}

internal sealed class RewriteOptions
{
    public string? Path { get; set; }

    public string? Value { get; set; }
}

internal sealed class SinkFilterOptions
{
    public List<string>? MessageTypes { get; set; }

    public List<string>? Events { get; set; }

    public List<string>? SendingFacilities { get; set; }
}

internal sealed class FhirAuthOptions
{
    public string? Type { get; set; }

    public string? Header { get; set; }

    public string? Prefix { get; set; }

    public string? KeyFile { get; set; }

    public string? KeyEnv { get; set; }

    public string? Username { get; set; }

    public string? PasswordFile { get; set; }

    public string? PasswordEnv { get; set; }

    public string? TokenUrl { get; set; }

    public string? ClientId { get; set; }

    public string? Scope { get; set; }

    public string? SecretFile { get; set; }

    public string? SecretEnv { get; set; }

    public string? PrivateKeyFile { get; set; }

    public string? KeyId { get; set; }
}

internal sealed class StoreOptions
{
    public string? Provider { get; set; }

    public string? Durability { get; set; }

    public string? ConnectionString { get; set; }

    public string? ConnectionStringFile { get; set; }
}
