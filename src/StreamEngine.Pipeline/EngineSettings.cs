namespace StreamEngine.Pipeline;

/// <summary>How far a commit must go before it counts.</summary>
public enum Durability
{
    /// <summary>On disk (fsync): survives power loss. The default.</summary>
    Fsync,

    /// <summary>Handed to the OS: survives a process crash (kill -9), not power loss.</summary>
    Os,
}

/// <summary>Where the journal lives.</summary>
public enum StoreProvider
{
    /// <summary>Embedded SQLite under the data directory. The default.</summary>
    Sqlite,

    /// <summary>PostgreSQL: the same code, a connection string away; for scale and clustering.</summary>
    PostgreSql,

    /// <summary>Process memory: nothing survives a restart. For benchmarks of the listener path only (no sinks).</summary>
    Memory,
}

/// <summary>Where a new sink starts reading the journal.</summary>
public enum StartFrom
{
    /// <summary>From messages journaled after the sink first starts. The default: a new sink does not replay history.</summary>
    Now,

    /// <summary>From the oldest message the journal still holds (backfill).</summary>
    Earliest,
}

/// <summary>The validated engine configuration. Immutable.</summary>
public sealed record EngineSettings
{
    /// <summary>Folder for the embedded journal and other state. Default <c>./data</c>.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Inbound MLLP channels.</summary>
    public required IReadOnlyList<ListenerSettings> Listeners { get; init; }

    /// <summary>Outbound destinations; each consumes every listener's stream.</summary>
    public required IReadOnlyList<SinkSettings> Sinks { get; init; }

    /// <summary>The journal store. Default SQLite.</summary>
    public StoreProvider Store { get; init; } = StoreProvider.Sqlite;

    /// <summary>
    /// PostgreSQL connection string (resolved from <c>store.connectionString</c> or <c>store.connectionStringFile</c>);
    /// null for the other stores.
    /// </summary>
    public string? ConnectionString { get; init; }

    /// <summary>Durability of the journal commit and of sink output. Default fsync.</summary>
    public Durability Durability { get; init; } = Durability.Fsync;

    /// <summary>Dedupe of sender resends.</summary>
    public DedupeSettings Dedupe { get; init; } = new();

    /// <summary>Journal retention.</summary>
    public RetentionSettings Retention { get; init; } = new();

    /// <summary>The national data opt-out list (<c>consent.optOutFile</c>), or null.</summary>
    public StreamEngine.Policy.OptOutList? OptOut { get; init; }

    /// <summary>The Trust profile every sink's HL7 v2 -> FHIR mapping uses (<c>mapping.profile</c>).</summary>
    public StreamEngine.Fhir.Profiles.TrustProfile MappingProfile { get; init; } = StreamEngine.Fhir.Profiles.TrustProfile.Default;

    /// <summary>The admin endpoint, or null when none is configured.</summary>
    public AdminSettings? Admin { get; init; }

    /// <summary>Plugin id of the read journal (Akka.Persistence.Query) that sinks catch up from.</summary>
    public required string ReadJournalPluginId { get; init; }
}

/// <summary>
/// Dedupe of resends: a message with the same (MSH-3, MSH-4, MSH-10) and content as one journaled within the window
/// is answered again and not journaled twice. Whichever limit is reached first ends a key's time in the window.
/// </summary>
public sealed record DedupeSettings
{
    /// <summary>How long a key is remembered. Default 7 days.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromDays(7);

    /// <summary>How many keys are remembered per stream. Default 1,000,000 (about 120 MB of memory when full).</summary>
    public int MaxKeys { get; init; } = 1_000_000;
}

/// <summary>
/// Journal retention: messages every sink has passed and received longer ago than <see cref="ReplayWindow"/> are
/// deleted from the journal (quarantined and parked messages keep their own copies in the sinks' journals).
/// </summary>
public sealed record RetentionSettings
{
    /// <summary>How far back a replay can reach; null keeps everything. Default 7 days.</summary>
    public TimeSpan? ReplayWindow { get; init; } = TimeSpan.FromDays(7);

    /// <summary>How often retention runs. Default 10 minutes.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>
/// The admin endpoint that <c>status</c>, <c>trace</c>, <c>replay</c> and <c>quarantine</c> use to reach a running
/// engine: HTTP on loopback, every request carrying the bearer token held in <see cref="TokenFile"/>.
/// </summary>
public sealed record AdminSettings
{
    /// <summary>Address to bind. Default 127.0.0.1.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Port; 0 picks a free one (tests).</summary>
    public int Port { get; init; }

    /// <summary>File holding the bearer token; created with a random token (mode 0600) when missing.</summary>
    public required string TokenFile { get; init; }
}

/// <summary>One inbound MLLP channel.</summary>
public sealed record ListenerSettings
{
    /// <summary>Stable id; persistence ids derive from it, so renaming the display name loses nothing.</summary>
    public required string Id { get; init; }

    /// <summary>Display name.</summary>
    public required string Name { get; init; }

    /// <summary>Address to bind. Default 127.0.0.1: exposing a listener beyond the host is a deliberate choice.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (tests). Default 2575, the registered MLLP port.</summary>
    public int Port { get; init; } = 2575;

    /// <summary>Largest MLLP payload accepted. Default 16 MiB: room for an embedded PDF, a cap on a runaway sender.</summary>
    public int MaxFrameBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>
    /// Connections accepted at once; further ones are closed on accept and counted. Default 100: a Trust feed uses a
    /// handful, so the cap only bites on a runaway sender that reconnects without closing.
    /// </summary>
    public int MaxConnections { get; init; } = 100;

    /// <summary>
    /// Close a connection silent for this long; null (the default) never does, because PAS feeds keep one connection
    /// open through quiet nights and expect to find it there.
    /// </summary>
    public TimeSpan? IdleTimeout { get; init; }

    /// <summary>
    /// How long a frame may take from its start block to its end block; a stalled or slowloris sender is cut off.
    /// Default 60 s: a 16 MiB frame at 1 Mbit/s takes about two minutes, so raise it for slow links with huge frames.
    /// </summary>
    public TimeSpan? FrameTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Answer with MLLP release 2 commit acknowledgments instead of HL7 ACK messages: a frame holding the single byte
    /// 0x06 once the message is journaled, 0x15 when it was not (or could not be read). Default off (release 1, HL7 ACKs),
    /// which is what nearly every sender expects.
    /// </summary>
    public bool MllpRelease2 { get; init; }

    /// <summary>TLS for this listener, or null for plain TCP.</summary>
    public TlsSettings? Tls { get; init; }

    /// <summary>Sender addresses allowed to connect (CIDR blocks); empty allows every sender.</summary>
    public IReadOnlyList<System.Net.IPNetwork> AllowedSenders { get; init; } = [];

    /// <summary>
    /// How long a frame may wait for its journal commit before the sender gets AR (207). Default 30 s: longer than
    /// any healthy commit, shorter than the ACK timeouts senders use (typically 60 s).
    /// </summary>
    public TimeSpan CommitTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The stream this listener journals into.</summary>
    public string PersistenceId => $"ingest/{Id}/default";
}

/// <summary>TLS of a listener: TLS 1.2 and 1.3 only.</summary>
public sealed record TlsSettings
{
    /// <summary>Server certificate: a PEM file (with <see cref="KeyFile"/>, or holding its key) or a PFX/PKCS#12 file.</summary>
    public required string CertificateFile { get; init; }

    /// <summary>PEM private key of the certificate, when not in the certificate file.</summary>
    public string? KeyFile { get; init; }

    /// <summary>File holding the PFX password, for a protected PFX; never the password itself in configuration.</summary>
    public string? PasswordFile { get; init; }

    /// <summary>
    /// Mutual TLS: client certificates allowed, each a thumbprint (SHA-1 or SHA-256, hex) or a subject ("CN=pas,O=Trust").
    /// Empty: no client certificate is asked for.
    /// </summary>
    public IReadOnlyList<string> ClientCertificates { get; init; } = [];

    /// <summary>PEM bundle of the CAs a client certificate must chain to. Required when an allowed entry is a subject.</summary>
    public string? ClientCaFile { get; init; }

    /// <summary>True when client certificates are required.</summary>
    public bool MutualTls => ClientCertificates.Count > 0;
}

/// <summary>One outbound destination.</summary>
public enum SinkPurpose
{
    /// <summary>Care of the patient: every message, whatever the opt-out list says.</summary>
    DirectCare,

    /// <summary>Research, planning, analytics: patients on the national data opt-out list are filtered out.</summary>
    SecondaryUse,
}

/// <summary>One sink's settings.</summary>
public sealed record SinkSettings
{
    /// <summary>Stable id; the watermark's persistence id derives from it.</summary>
    public required string Id { get; init; }

    /// <summary>Display name.</summary>
    public required string Name { get; init; }

    /// <summary>Sink type: <c>ndjson</c> or <c>fhir</c>.</summary>
    public string Type { get; init; } = "ndjson";

    /// <summary>Direct care (default) or secondary use: the national data opt-out applies to secondary use only.</summary>
    public SinkPurpose Purpose { get; init; } = SinkPurpose.DirectCare;

    /// <summary>The sink's minimisation policy (<c>sinks[].policy</c>), or null for the full record.</summary>
    public StreamEngine.Policy.MinimisationPolicy? Policy { get; init; }

    /// <summary>An NDJSON sink's rotation (null: one file).</summary>
    public StreamEngine.Sinks.Ndjson.NdjsonRotation? Rotation { get; init; }

    /// <summary>Which messages the sink takes (everything by default).</summary>
    public Delivery.SinkFilter Filter { get; init; } = Delivery.SinkFilter.All;

    /// <summary>An onward MLLP sink's receiver and rewrites (null for other types).</summary>
    public Delivery.MllpSinkOptions? Mllp { get; init; }

    /// <summary>A FHIR sink's server and credentials (null for other types).</summary>
    public StreamEngine.Sinks.Fhir.FhirSinkOptions? Fhir { get; init; }

    /// <summary>Output folder of an NDJSON sink. Default <c>./out</c>.</summary>
    public string Path { get; init; } = "./out";

    /// <summary>
    /// How many messages of different patients the sink works on at once (<c>sinks[].lanes</c>; for a FHIR sink also
    /// <c>maxConcurrentRequests</c>). One patient's messages never overlap and keep their order. Default 4.
    /// </summary>
    public int Lanes { get; init; } = DefaultLanes;

    /// <summary>The default number of lanes.</summary>
    public const int DefaultLanes = 4;

    /// <summary>Where a new sink starts. Default now.</summary>
    public StartFrom StartFrom { get; init; } = StartFrom.Now;

    /// <summary>Persistence id of this sink's watermark for one listener's stream.</summary>
    public string PersistenceIdFor(ListenerSettings listener) => $"sink/{Id}/{listener.Id}/default";
}
