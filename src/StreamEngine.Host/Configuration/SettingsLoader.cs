using System.Collections.Frozen;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Configuration;
using StreamEngine.Pipeline;

namespace StreamEngine.Host.Configuration;

/// <summary>
/// Reads configuration: the JSON file, then environment variables <c>STREAMENGINE__...</c> (the standard .NET form,
/// <c>__</c> for nesting), into validated <see cref="EngineSettings"/>. Every problem is reported at once, each
/// naming its key.
/// </summary>
public static partial class SettingsLoader
{
    /// <summary>Default configuration file, relative to the working directory.</summary>
    public const string DefaultConfigFile = "config/streamengine.json";

    /// <summary>Prefix of environment variables that override the file.</summary>
    public const string EnvironmentPrefix = "STREAMENGINE__";

    /// <summary>Plugin id of the SQL read journal, which sinks catch up from.</summary>
    public const string ReadJournalPluginId = "akka.persistence.query.journal.sql";

    /// <summary>Builds the configuration sources: the file (required), then the environment.</summary>
    public static IConfigurationRoot BuildConfiguration(string configFile, IDictionary<string, string?>? environment = null)
    {
        string fullPath = Path.GetFullPath(configFile);
        if (!File.Exists(fullPath))
        {
            throw new ConfigurationException([$"config file '{configFile}' not found (looked in {fullPath})"]);
        }

        var builder = new ConfigurationBuilder().AddJsonFile(fullPath, optional: false, reloadOnChange: false);
        if (environment is null)
        {
            builder.AddEnvironmentVariables(EnvironmentPrefix);
        }
        else
        {
            // Tests pass an explicit environment; strip the prefix as the environment provider does.
            builder.AddInMemoryCollection(environment
                .Where(kv => kv.Key.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
                .Select(kv => new KeyValuePair<string, string?>(kv.Key[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal), kv.Value)));
        }

        try
        {
            return builder.Build();
        }
        catch (InvalidDataException e)
        {
            throw new ConfigurationException([$"config file '{configFile}' is not valid JSON: {e.InnerException?.Message ?? e.Message}"]);
        }
    }

    /// <summary>Binds and validates. Throws <see cref="ConfigurationException"/> listing every bad key.</summary>
    /// <param name="configuration">The configuration.</param>
    /// <param name="readConsent">
    /// False for the operator's commands (status, trace, quarantine, replay): they never apply the opt-out, and the
    /// list is the one file a running engine re-reads, so an edit in progress must not lock the operator out.
    /// </param>
    public static EngineSettings Load(IConfiguration configuration, bool readConsent = true)
    {
        var errors = new List<string>();
        // Unknown keys (a typo such as "lane" for "lanes") by their path, listed with every other problem below.
        UnknownKeys(configuration, typeof(StreamEngineOptions), string.Empty, errors);
        StreamEngineOptions options;
        try
        {
            options = configuration.Get<StreamEngineOptions>() ?? new StreamEngineOptions();
        }
        catch (InvalidOperationException e)
        {
            // Every setting is read as text and parsed below, naming its key (the binder drops a list item whose value
            // fails to convert unless told to fail on unknown keys); this is for a shape the binder cannot take at all.
            throw new ConfigurationException([.. errors, e.InnerException is null ? e.Message : $"{e.Message} {e.InnerException.Message}"]);
        }

        string dataDirectory = string.IsNullOrWhiteSpace(options.DataDirectory) ? "./data" : options.DataDirectory;

        var listeners = new List<ListenerSettings>();
        List<ListenerOptions> listenerOptions = options.Listeners ?? [];
        if (listenerOptions.Count == 0)
        {
            errors.Add("listeners: at least one listener is required");
        }

        for (int i = 0; i < listenerOptions.Count; i++)
        {
            ListenerOptions l = listenerOptions[i];
            string key = $"listeners[{i}]";
            string? name = l.Name ?? l.Id;
            string? id = l.Id ?? l.Name;
            if (string.IsNullOrWhiteSpace(id) || string.IsNullOrWhiteSpace(name))
            {
                errors.Add($"{key}.name: required");
                continue;
            }

            CheckId(errors, $"{key}.id", id);
            string host = string.IsNullOrWhiteSpace(l.Host) ? "127.0.0.1" : l.Host;
            if (!IPAddress.TryParse(host, out _) && Uri.CheckHostName(host) == UriHostNameType.Unknown)
            {
                errors.Add($"{key}.host: '{host}' is not an IP address or host name");
            }

            int port = 2575;
            if (l.Port is not null && (!int.TryParse(l.Port, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535))
            {
                errors.Add($"{key}.port: '{l.Port}' is not a TCP port (0-65535)");
            }

            long maxFrame = 16 * 1024 * 1024;
            if (l.MaxFrameBytes is not null
                && (!long.TryParse(l.MaxFrameBytes, NumberStyles.None, CultureInfo.InvariantCulture, out maxFrame) || maxFrame is < 1024 or > int.MaxValue))
            {
                errors.Add($"{key}.maxFrameBytes: '{l.MaxFrameBytes}' is not a size between 1024 and {int.MaxValue.ToString(CultureInfo.InvariantCulture)} bytes");
            }

            int maxConnections = 100;
            if (l.MaxConnections is not null
                && (!int.TryParse(l.MaxConnections, NumberStyles.None, CultureInfo.InvariantCulture, out maxConnections) || maxConnections < 1))
            {
                errors.Add($"{key}.maxConnections: '{l.MaxConnections}' is not a positive number");
            }

            TimeSpan? idleTimeout = Duration(errors, $"{key}.idleTimeout", l.IdleTimeout, null);
            TimeSpan? frameTimeout = Duration(errors, $"{key}.frameTimeout", l.FrameTimeout, TimeSpan.FromSeconds(60));
            var allowed = new List<IPNetwork>();
            foreach (string cidr in l.AllowedSenders ?? [])
            {
                if (IPNetwork.TryParse(cidr.Contains('/', StringComparison.Ordinal) ? cidr : cidr + (cidr.Contains(':', StringComparison.Ordinal) ? "/128" : "/32"), out IPNetwork network))
                {
                    allowed.Add(network);
                }
                else
                {
                    errors.Add($"{key}.allowedSenders: '{cidr}' is not an address or CIDR block");
                }
            }

            bool release2 = false;
            if (l.MllpRelease2 is not null && !bool.TryParse(l.MllpRelease2, out release2))
            {
                errors.Add($"{key}.mllpRelease2: '{l.MllpRelease2}' is not true or false");
            }

            listeners.Add(new ListenerSettings
            {
                Id = id,
                Name = name,
                Host = host,
                Port = port,
                MaxFrameBytes = (int)Math.Clamp(maxFrame, 1024, int.MaxValue),
                MaxConnections = Math.Max(maxConnections, 1),
                IdleTimeout = idleTimeout,
                FrameTimeout = frameTimeout,
                AllowedSenders = allowed,
                MllpRelease2 = release2,
                Tls = l.Tls is null ? null : Tls(errors, $"{key}.tls", l.Tls),
            });
        }

        Duplicates(errors, "listeners", listeners.Select(l => l.Id));
        SharedPorts(errors, listeners);

        var sinks = new List<SinkSettings>();
        List<SinkOptions> sinkOptions = options.Sinks ?? [];
        for (int i = 0; i < sinkOptions.Count; i++)
        {
            SinkOptions s = sinkOptions[i];
            string key = $"sinks[{i}]";
            string? name = s.Name ?? s.Id;
            string? id = s.Id ?? s.Name;
            if (string.IsNullOrWhiteSpace(id) || string.IsNullOrWhiteSpace(name))
            {
                errors.Add($"{key}.name: required");
                continue;
            }

            CheckId(errors, $"{key}.id", id);
            string type = s.Type?.Trim().ToLowerInvariant() ?? string.Empty;
            if (type is not ("ndjson" or "fhir" or "mllp"))
            {
                errors.Add(type.Length == 0 ? $"{key}.type: required (ndjson, fhir or mllp)" : $"{key}.type: '{s.Type}' is not a sink type (ndjson, fhir or mllp)");
            }

            StreamEngine.Sinks.Fhir.FhirSinkOptions? fhir = type == "fhir" ? FhirSink(errors, key, s) : null;
            StreamEngine.Pipeline.Delivery.MllpSinkOptions? mllp = type == "mllp" ? MllpSink(errors, key, s) : null;
            if (type != "fhir" && (s.BaseUrl ?? s.BundleType) is not null | s.Auth is not null | s.Tls is not null)
            {
                errors.Add($"{key}: baseUrl, bundleType, auth and tls are for fhir sinks");
            }

            if (type is not ("fhir" or "mllp") && (s.Timeout ?? s.MaxAttempts) is not null)
            {
                errors.Add($"{key}: timeout and maxAttempts are for fhir and mllp sinks");
            }

            if (type != "mllp" && (s.Host ?? s.Port) is not null | s.Rewrite is not null | s.QuarantineOn is not null)
            {
                errors.Add($"{key}: host, port, rewrite and quarantineOn are for mllp sinks");
            }

            StartFrom startFrom = StartFrom.Now;
            if (s.StartFrom is not null && !Enum.TryParse(s.StartFrom, ignoreCase: true, out startFrom))
            {
                errors.Add($"{key}.startFrom: '{s.StartFrom}' is not now or earliest");
            }

            string path = s.Path is null ? "./out" : s.Path;
            if (string.IsNullOrWhiteSpace(path))
            {
                errors.Add($"{key}.path: empty (leave it out for ./out)");
            }
            else if (path.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
            {
                errors.Add($"{key}.path: not a valid path");
            }

            sinks.Add(new SinkSettings { Id = id, Name = name, Type = type, Path = path, StartFrom = startFrom, Fhir = fhir, Mllp = mllp, Filter = Filter(errors, key, s.Filter), Policy = Policy(errors, key, s.Policy), Purpose = Purpose(errors, key, s.Purpose), Rotation = Rotation(errors, key, type, s.Rotate), Lanes = Lanes(errors, key, type, s) });
        }

        Duplicates(errors, "sinks", sinks.Select(s => s.Id));

        Durability durability = Durability.Fsync;
        if (options.Store?.Durability is { } d && (!Enum.TryParse(d, ignoreCase: true, out durability) || !Enum.IsDefined(durability) || char.IsAsciiDigit(d.Trim()[0])))
        {
            errors.Add($"store.durability: '{d}' is not fsync or os");
        }

        StoreProvider store = StoreProvider.Sqlite;
        string? connectionString = null;
        if (options.Store?.Provider is { } provider)
        {
            if (provider.Equals("memory", StringComparison.OrdinalIgnoreCase))
            {
                store = StoreProvider.Memory;
                if (sinks.Count > 0)
                {
                    errors.Add("store.provider: 'memory' is for benchmarks of the listener path and takes no sinks (sinks must be empty)");
                }
            }
            else if (provider.Equals("postgresql", StringComparison.OrdinalIgnoreCase))
            {
                store = StoreProvider.PostgreSql;
                connectionString = StoreConnectionString(errors, options.Store, InConfigFile(configuration, "store:connectionString"));
            }
            else if (!provider.Equals("sqlite", StringComparison.OrdinalIgnoreCase))
            {
                errors.Add($"store.provider: '{provider}' is not one of sqlite, postgresql (or memory for benchmarks)");
            }
        }

        if (store != StoreProvider.PostgreSql && (options.Store?.ConnectionString is not null || options.Store?.ConnectionStringFile is not null))
        {
            errors.Add("store.connectionString: only the postgresql provider takes a connection string");
        }

        var dedupe = new DedupeSettings();
        if (options.Dedupe is { } d2)
        {
            TimeSpan? window = Duration(errors, "dedupe.window", d2.Window, dedupe.Window);
            int maxKeys = dedupe.MaxKeys;
            if (d2.MaxKeys is not null && (!int.TryParse(d2.MaxKeys, NumberStyles.None, CultureInfo.InvariantCulture, out maxKeys) || maxKeys < 1))
            {
                errors.Add($"dedupe.maxKeys: '{d2.MaxKeys}' is not a whole number of at least 1");
            }

            if (window is null)
            {
                errors.Add("dedupe.window: must be longer than 0 (dedupe cannot be switched off: resends after a lost ACK would be journaled twice)");
            }

            dedupe = new DedupeSettings { Window = window ?? dedupe.Window, MaxKeys = maxKeys };
        }

        var retention = new RetentionSettings();
        if (options.Retention is { } r)
        {
            TimeSpan? interval = Duration(errors, "retention.interval", r.Interval, retention.Interval);
            if (interval is null)
            {
                errors.Add("retention.interval: must be longer than 0 (to keep everything, set retention.replayWindow to off)");
            }

            retention = new RetentionSettings
            {
                ReplayWindow = Duration(errors, "retention.replayWindow", r.ReplayWindow, retention.ReplayWindow),
                Interval = interval ?? retention.Interval,
            };
        }

        AdminSettings? admin = null;
        if (options.Admin is { } a)
        {
            int adminPort = -1;
            if (a.Port is null || !int.TryParse(a.Port, NumberStyles.None, CultureInfo.InvariantCulture, out adminPort) || adminPort > 65535)
            {
                errors.Add($"admin.port: '{a.Port}' is not a port number (0-65535)");
            }

            string adminHost = string.IsNullOrWhiteSpace(a.Host) ? "127.0.0.1" : a.Host.Trim();
            if (!IPAddress.TryParse(adminHost, out IPAddress? address))
            {
                errors.Add($"admin.host: '{adminHost}' is not an IP address");
            }
            else if (!IPAddress.IsLoopback(address))
            {
                errors.Add($"admin.host: '{adminHost}' is not a loopback address (the admin endpoint is for this machine only)");
            }

            string tokenFile = string.IsNullOrWhiteSpace(a.TokenFile) ? Path.Combine(dataDirectory, "admin.token") : a.TokenFile;
            admin = new AdminSettings { Host = adminHost, Port = Math.Max(adminPort, 0), TokenFile = tokenFile };
        }

        StreamEngine.Fhir.Profiles.TrustProfile profile = StreamEngine.Fhir.Profiles.TrustProfile.Default;
        if (options.Mapping?.Profile is { } profilePath && profilePath.Trim().Length > 0)
        {
            try
            {
                profile = StreamEngine.Fhir.Profiles.TrustProfileLoader.Load(profilePath);
            }
            catch (StreamEngine.Fhir.Profiles.TrustProfileException e)
            {
                errors.Add("mapping.profile: " + e.Message);
            }
        }

        StreamEngine.Policy.OptOutList? optOut = readConsent ? OptOut(options.Consent, sinks, errors) : null;

        for (int i = 0; i < sinks.Count && sinks.Count == sinkOptions.Count; i++)
        {
            // A secondary-use sink without a policy would get the full record; a policy without a stated purpose would
            // silently skip the opt-out. Both are said out loud instead.
            if (sinks[i].Purpose == SinkPurpose.SecondaryUse && sinks[i].Policy is null && sinkOptions[i].Policy is null)
            {
                errors.Add($"sinks[{i}].policy: required for a secondary-use sink");
            }

            if (sinkOptions[i].Policy is not null && sinkOptions[i].Purpose is null)
            {
                errors.Add($"sinks[{i}].purpose: required with a policy (direct-care or secondary-use)");
            }
        }

        if (errors.Count > 0)
        {
            throw new ConfigurationException(errors);
        }

        return new EngineSettings
        {
            DataDirectory = dataDirectory,
            Listeners = listeners,
            Sinks = sinks,
            Durability = durability,
            Store = store,
            ConnectionString = connectionString,
            Dedupe = dedupe,
            Admin = admin,
            Retention = retention,
            MappingProfile = profile,
            OptOut = optOut,
            ReadJournalPluginId = ReadJournalPluginId,
        };
    }

    // PostgreSQL: a connection string in config (without a password), or a file holding it; the password may come from
    // the file, from PGPASSWORD or from ~/.pgpass (Npgsql reads both), never from the JSON.
    private static string? StoreConnectionString(List<string> errors, StoreOptions store, bool inFile)
    {
        string? text = store.ConnectionString;
        if (store.ConnectionStringFile is { } file)
        {
            if (text is not null)
            {
                errors.Add("store.connectionStringFile: give store.connectionString or store.connectionStringFile, not both");
                return null;
            }

            if (!File.Exists(file))
            {
                errors.Add($"store.connectionStringFile: file '{file}' not found");
                return null;
            }

            text = File.ReadAllText(file).Trim();
            if (text.Length == 0)
            {
                errors.Add($"store.connectionStringFile: file '{file}' is empty");
                return null;
            }
        }
        else if (inFile && text is not null && text.Contains("password", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add("store.connectionString: holds a password in the config file; put it in store.connectionStringFile, "
                + "the STREAMENGINE__STORE__CONNECTIONSTRING environment variable, PGPASSWORD or ~/.pgpass instead");
            return null;
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            errors.Add("store.connectionString: required for the postgresql provider (or store.connectionStringFile)");
            return null;
        }

        try
        {
            _ = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = text };
        }
        catch (ArgumentException)
        {
            errors.Add($"{(store.ConnectionStringFile is null ? "store.connectionString" : "store.connectionStringFile")}: not a valid connection string (key=value;...)");
            return null;
        }

        return text;
    }

    // True when the JSON file (not the environment) supplies the key.
    private static bool InConfigFile(IConfiguration configuration, string key) =>
        configuration is IConfigurationRoot root
        && root.Providers.OfType<Microsoft.Extensions.Configuration.Json.JsonConfigurationProvider>().Any(p => p.TryGet(key, out _));

    private static TlsSettings? Tls(List<string> errors, string key, TlsOptions tls)
    {
        if (string.IsNullOrWhiteSpace(tls.CertificateFile))
        {
            errors.Add($"{key}.certificateFile: required");
            return null;
        }

        int before = errors.Count;
        foreach ((string name, string? file) in new[] { ("certificateFile", tls.CertificateFile), ("keyFile", tls.KeyFile), ("passwordFile", tls.PasswordFile), ("clientCaFile", tls.ClientCaFile) })
        {
            if (file is not null && !File.Exists(file))
            {
                errors.Add($"{key}.{name}: file '{file}' not found");
            }
        }

        if (errors.Count > before)
        {
            return null;
        }

        var settings = new TlsSettings
        {
            CertificateFile = tls.CertificateFile,
            KeyFile = tls.KeyFile,
            PasswordFile = tls.PasswordFile,
            ClientCertificates = tls.ClientCertificates ?? [],
            ClientCaFile = tls.ClientCaFile,
        };
        try
        {
            _ = new StreamEngine.Mllp.Tls.ReloadingCertificate(settings.CertificateFile, settings.KeyFile, settings.PasswordFile).Current;
        }
        catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            errors.Add($"{key}.certificateFile: the certificate or its key cannot be read ({e.GetType().Name})");
        }

        try
        {
            _ = settings.MutualTls ? new StreamEngine.Mllp.Tls.ClientCertificatePolicy(settings.ClientCertificates, settings.ClientCaFile) : null;
        }
        catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            errors.Add($"{key}.clientCertificates: {(e is ArgumentException ? "a subject needs clientCaFile to check the chain" : "clientCaFile cannot be read (" + e.GetType().Name + ")")}");
        }

        return settings;
    }

    // A duration: seconds ("30", "0.5") or a TimeSpan ("00:05:00"); "0" or "off" disables it.
    private static TimeSpan? Duration(List<string> errors, string key, string? text, TimeSpan? fallback)
    {
        if (text is null)
        {
            return fallback;
        }

        if (text.Equals("off", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds >= 0 && seconds < 1e7)
        {
            return seconds == 0 ? null : TimeSpan.FromSeconds(seconds);
        }

        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out TimeSpan span) && span >= TimeSpan.Zero)
        {
            return span == TimeSpan.Zero ? null : span;
        }

        errors.Add($"{key}: '{text}' is not a duration (seconds, or hh:mm:ss; 0 or off to disable)");
        return fallback;
    }

    private static void CheckId(List<string> errors, string key, string id)
    {
        foreach (char c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                errors.Add($"{key}: '{id}' may hold only letters, digits, '-', '_' and '.' (it names files and persistence ids)");
                return;
            }
        }
    }

    // Two listeners on one port: the second could never bind. Addresses that may overlap (the same one, a wildcard, or
    // a host name, which may resolve to the other's address) count as the same.
    private static void SharedPorts(List<string> errors, List<ListenerSettings> listeners)
    {
        for (int j = 1; j < listeners.Count; j++)
        {
            for (int i = 0; i < j; i++)
            {
                (ListenerSettings a, ListenerSettings b) = (listeners[i], listeners[j]);
                if (a.Port != 0 && a.Port == b.Port && MayOverlap(a.Host, b.Host))
                {
                    errors.Add($"listeners[{j}].port: {b.Port.ToString(CultureInfo.InvariantCulture)} is already taken by listeners[{i}] ('{a.Id}') on {a.Host}");
                    break;
                }
            }
        }

        static bool MayOverlap(string x, string y) =>
            !IPAddress.TryParse(x, out IPAddress? a) || !IPAddress.TryParse(y, out IPAddress? b)
            || a.Equals(b) || a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any) || b.Equals(IPAddress.Any) || b.Equals(IPAddress.IPv6Any);
    }

    private static void Duplicates(List<string> errors, string key, IEnumerable<string> ids)
    {
        foreach (IGrouping<string, string> group in ids.GroupBy(i => i, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
        {
            errors.Add($"{key}: id '{group.Key}' is used more than once");
        }
    }

    // A FHIR sink: base URL, timeout, transaction or batch, tries, and credentials from files or environment only.
    private static StreamEngine.Sinks.Fhir.FhirSinkOptions? FhirSink(List<string> errors, string key, SinkOptions s)
    {
        int before = errors.Count;
        if (!Uri.TryCreate(s.BaseUrl, UriKind.Absolute, out Uri? baseUrl) || baseUrl.Scheme is not ("http" or "https"))
        {
            // The value is not echoed: a mistyped URL can still carry a password.
            errors.Add(s.BaseUrl is null ? $"{key}.baseUrl: required for a fhir sink" : $"{key}.baseUrl: not an http(s) URL");
        }
        else if (!string.IsNullOrEmpty(baseUrl.UserInfo) || baseUrl.Query.Length > 0)
        {
            errors.Add($"{key}.baseUrl: credentials and query strings do not belong in the URL (use auth)");
        }

        TimeSpan timeout = Duration(errors, $"{key}.timeout", s.Timeout, TimeSpan.FromSeconds(30)) ?? TimeSpan.FromSeconds(30);
        if (timeout > TimeSpan.FromHours(1))
        {
            errors.Add($"{key}.timeout: at most an hour");
        }

        bool batch = false;
        if (s.BundleType is { } bt)
        {
            batch = bt.Equals("batch", StringComparison.OrdinalIgnoreCase);
            if (!batch && !bt.Equals("transaction", StringComparison.OrdinalIgnoreCase))
            {
                errors.Add($"{key}.bundleType: '{bt}' is not transaction or batch");
            }
        }

        int attempts = WholeNumber(errors, $"{key}.maxAttempts", s.MaxAttempts, 1, 100) ?? 4;

        var auth = StreamEngine.Sinks.Fhir.FhirAuthKind.None;
        StreamEngine.Sinks.Fhir.SecretSource? secret = null;
        StreamEngine.Sinks.Fhir.SecretSource? privateKey = null;
        Uri? tokenUrl = null;
        FhirAuthOptions? a = s.Auth;
        string authType = a?.Type?.Trim().ToLowerInvariant() ?? (a is null ? "none" : "(missing)");
        if (a?.Header is { } header && (header.Length == 0 || header.Any(ch => ch <= ' ' || ch >= 127 || "()<>@,;:\\\"/[]?={}".Contains(ch))))
        {
            errors.Add($"{key}.auth.header: not an HTTP header name");
        }
        switch (authType)
        {
            case "none":
                break;
            case "apikey":
                auth = StreamEngine.Sinks.Fhir.FhirAuthKind.ApiKey;
                secret = Secret(errors, $"{key}.auth", a!.KeyFile, a.KeyEnv, "keyFile", "keyEnv");
                break;
            case "basic":
                auth = StreamEngine.Sinks.Fhir.FhirAuthKind.Basic;
                if (string.IsNullOrWhiteSpace(a!.Username))
                {
                    errors.Add($"{key}.auth.username: required for basic auth");
                }

                secret = Secret(errors, $"{key}.auth", a.PasswordFile, a.PasswordEnv, "passwordFile", "passwordEnv");
                break;
            case "oauth":
                auth = StreamEngine.Sinks.Fhir.FhirAuthKind.OAuth;
                if (!Uri.TryCreate(a!.TokenUrl, UriKind.Absolute, out tokenUrl) || tokenUrl.Scheme is not ("http" or "https"))
                {
                    errors.Add($"{key}.auth.tokenUrl: required, an http(s) URL");
                }

                if (string.IsNullOrWhiteSpace(a.ClientId))
                {
                    errors.Add($"{key}.auth.clientId: required for oauth");
                }

                if (a.PrivateKeyFile is not null)
                {
                    privateKey = Secret(errors, $"{key}.auth", a.PrivateKeyFile, null, "privateKeyFile", "privateKeyEnv");
                    if (privateKey is not null && (a.SecretFile ?? a.SecretEnv) is not null)
                    {
                        errors.Add($"{key}.auth: give a client secret or a private key, not both");
                    }
                    else if (privateKey is not null)
                    {
                        try
                        {
                            using var rsa = System.Security.Cryptography.RSA.Create();
                            rsa.ImportFromPem(privateKey.Value);
                        }
                        catch (Exception e) when (e is ArgumentException or System.Security.Cryptography.CryptographicException)
                        {
                            errors.Add($"{key}.auth.privateKeyFile: not an RSA private key in PEM");
                        }
                    }
                }
                else
                {
                    secret = Secret(errors, $"{key}.auth", a.SecretFile, a.SecretEnv, "secretFile", "secretEnv");
                }

                break;
            case "(missing)":
                errors.Add($"{key}.auth.type: required (none, apiKey, basic or oauth)");
                break;
            default:
                errors.Add($"{key}.auth.type: '{a!.Type}' is not none, apiKey, basic or oauth");
                break;
        }

        System.Security.Cryptography.X509Certificates.X509Certificate2? clientCertificate = null;
        System.Security.Cryptography.X509Certificates.X509Certificate2? trustedCa = null;
        if (s.Tls is { } tls)
        {
            try
            {
                if (tls.ClientCertificateFile is { } certFile)
                {
                    clientCertificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(certFile, tls.ClientKeyFile);
                    if (!clientCertificate.HasPrivateKey)
                    {
                        errors.Add($"{key}.tls.clientKeyFile: the client certificate has no private key (give clientKeyFile)");
                    }
                }
                else if (tls.ClientKeyFile is not null)
                {
                    errors.Add($"{key}.tls.clientCertificateFile: required with clientKeyFile");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                errors.Add($"{key}.tls.clientCertificateFile: cannot be loaded as a PEM certificate and key ({e.GetType().Name})");
            }

            try
            {
                if (tls.CaFile is { } caFile)
                {
                    trustedCa = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(caFile);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                errors.Add($"{key}.tls.caFile: cannot be loaded ({e.GetType().Name})");
            }
        }

        return errors.Count > before ? null : new StreamEngine.Sinks.Fhir.FhirSinkOptions
        {
            ClientCertificate = clientCertificate,
            TrustedCa = trustedCa,
            BaseUrl = baseUrl!.AbsoluteUri.EndsWith('/') ? baseUrl : new Uri(baseUrl.AbsoluteUri + "/"),
            Timeout = timeout,
            Batch = batch,
            MaxAttempts = attempts,
            Auth = auth,
            ApiKeyHeader = a?.Header ?? "X-API-Key",
            ApiKeyPrefix = a?.Prefix,
            Secret = secret,
            UserName = a?.Username,
            TokenUrl = tokenUrl,
            ClientId = a?.ClientId,
            Scope = a?.Scope,
            PrivateKey = privateKey,
            KeyId = a?.KeyId,
        };
    }

    // An optional whole number in a range: null when not given or (with the error recorded) not valid.
    private static int? WholeNumber(List<string> errors, string key, string? value, int min, int max)
    {
        if (value is null)
        {
            return null;
        }

        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= min && n <= max)
        {
            return n;
        }

        errors.Add($"{key}: '{value}' is not a number from {min} to {max}");
        return null;
    }

    // sinks[].lanes (every type) and, for a FHIR sink, its other name maxConcurrentRequests: the same setting.
    private static int Lanes(List<string> errors, string key, string type, SinkOptions s)
    {
        int? lanes = WholeNumber(errors, $"{key}.lanes", s.Lanes, 1, 256);
        int? concurrent = WholeNumber(errors, $"{key}.maxConcurrentRequests", s.MaxConcurrentRequests, 1, 256);
        if (s.MaxConcurrentRequests is not null && type != "fhir")
        {
            errors.Add($"{key}.maxConcurrentRequests: is for fhir sinks (use lanes)");
        }
        else if (lanes is not null && concurrent is not null && lanes != concurrent)
        {
            errors.Add($"{key}.maxConcurrentRequests: {concurrent} and lanes {lanes} name the same setting; give one");
        }

        return lanes ?? concurrent ?? SinkSettings.DefaultLanes;
    }

    // A secret is named by file or environment variable, never given inline (an inline key is an unknown key).
    private static StreamEngine.Sinks.Fhir.SecretSource? Secret(List<string> errors, string key, string? file, string? env, string fileKey, string envKey)
    {
        if ((file is null) == (env is null))
        {
            errors.Add($"{key}: give exactly one of {fileKey} or {envKey}");
            return null;
        }

        if (file is not null && !File.Exists(file))
        {
            errors.Add($"{key}.{fileKey}: file not found");
            return null;
        }

        if (env is not null && string.IsNullOrEmpty(Environment.GetEnvironmentVariable(env)))
        {
            errors.Add($"{key}.{envKey}: the environment variable is not set");
            return null;
        }

        return file is not null ? StreamEngine.Sinks.Fhir.SecretSource.FromFile(file) : StreamEngine.Sinks.Fhir.SecretSource.FromEnvironment(env!);
    }

    // sinks[].filter: message types (ADT), events (ADT^A01), sending facilities (MSH-4.1).
    private static StreamEngine.Pipeline.Delivery.SinkFilter Filter(List<string> errors, string key, SinkFilterOptions? f)
    {
        if (f is null)
        {
            return StreamEngine.Pipeline.Delivery.SinkFilter.All;
        }

        System.Collections.Frozen.FrozenSet<string> Set(List<string>? values, string name, System.Text.RegularExpressions.Regex shape, string example)
        {
            foreach (string v in values ?? [])
            {
                if (!shape.IsMatch(v))
                {
                    errors.Add($"{key}.filter.{name}: '{v}' is not like {example}");
                }
            }

            return (values ?? []).ToFrozenSet(StringComparer.Ordinal);
        }

        return new StreamEngine.Pipeline.Delivery.SinkFilter
        {
            MessageTypes = Set(f.MessageTypes, "messageTypes", MessageCodeShape(), "ADT"),
            Events = Set(f.Events, "events", EventShape(), "ADT^A01"),
            SendingFacilities = Set(f.SendingFacilities, "sendingFacilities", FacilityShape(), "RX1"),
        };
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Z0-9]{3}$")]
    private static partial System.Text.RegularExpressions.Regex MessageCodeShape();

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Z0-9]{3}\\^[A-Z0-9]{2,3}$")]
    private static partial System.Text.RegularExpressions.Regex EventShape();

    [System.Text.RegularExpressions.GeneratedRegex("^[^|^~\\\\&]{1,64}$")]
    private static partial System.Text.RegularExpressions.Regex FacilityShape();

    // sinks[].policy: a minimisation policy file, checked against the FHIR model now rather than at the first message.
    private static StreamEngine.Policy.MinimisationPolicy? Policy(List<string> errors, string key, string? path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            return null;
        }

        try
        {
            return StreamEngine.Policy.PolicyLoader.Load(path);
        }
        catch (StreamEngine.Policy.PolicyException e)
        {
            errors.AddRange(e.Problems.Select(problem => $"{key}.policy: {problem}"));
            return null;
        }
    }

    private static SinkPurpose Purpose(List<string> errors, string key, string? purpose) => purpose?.Trim().ToLowerInvariant() switch
    {
        null or "direct-care" => SinkPurpose.DirectCare,
        "secondary-use" => SinkPurpose.SecondaryUse,
        _ => Invalid(errors, $"{key}.purpose: '{purpose}' is not direct-care or secondary-use"),
    };

    private static SinkPurpose Invalid(List<string> errors, string error)
    {
        errors.Add(error);
        return SinkPurpose.DirectCare;
    }

    // An onward MLLP sink: the receiver, the ACK timeout, tries, and field rewrites (never the delimiters or MSH-10).
    private static StreamEngine.Pipeline.Delivery.MllpSinkOptions? MllpSink(List<string> errors, string key, SinkOptions s)
    {
        int before = errors.Count;
        if (string.IsNullOrWhiteSpace(s.Host))
        {
            errors.Add($"{key}.host: required for an mllp sink");
        }

        if (!int.TryParse(s.Port, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            errors.Add(s.Port is null ? $"{key}.port: required for an mllp sink" : $"{key}.port: '{s.Port}' is not a TCP port (1-65535)");
        }

        TimeSpan timeout = Duration(errors, $"{key}.timeout", s.Timeout, TimeSpan.FromSeconds(30)) ?? TimeSpan.FromSeconds(30);
        int attempts = WholeNumber(errors, $"{key}.maxAttempts", s.MaxAttempts, 1, 100) ?? 4;

        var rewrites = new List<StreamEngine.Pipeline.Delivery.Hl7Rewrite>();
        for (int i = 0; i < (s.Rewrite?.Count ?? 0); i++)
        {
            RewriteOptions r = s.Rewrite![i];
            string rewriteKey = $"{key}.rewrite[{i}].path";
            if (!StreamEngine.Hl7v2.Hl7Path.TryParse(r.Path, out _))
            {
                errors.Add($"{rewriteKey}: '{r.Path}' is not an HL7 v2 path such as MSH-5 or PV1-3.1");
                continue;
            }

            string normalised = r.Path!.Trim().ToUpperInvariant();
            if (normalised is "MSH-1" or "MSH-2" or "MSH-9" or "MSH-10" || normalised.StartsWith("MSH-10.", StringComparison.Ordinal) || normalised.StartsWith("MSH-9.", StringComparison.Ordinal))
            {
                errors.Add($"{rewriteKey}: '{r.Path}' may not be rewritten (delimiters, message type and control id stay as sent)");
                continue;
            }

            rewrites.Add(new StreamEngine.Pipeline.Delivery.Hl7Rewrite(r.Path!, string.IsNullOrEmpty(r.Value) ? null : r.Value));
        }

        // Which answers quarantine the message (the lane moves on; an operator retries or skips it) instead of being
        // retried: AE/CE always; AR/CR if listed (a receiver that rejects one message for good would otherwise hold the
        // sink, restarting on it, until that receiver is changed), and Dropped: a connection closed on it at every try.
        var quarantineOn = new HashSet<string>(StreamEngine.Pipeline.Delivery.MllpSinkOptions.AlwaysQuarantined, StringComparer.Ordinal);
        for (int i = 0; i < (s.QuarantineOn?.Count ?? 0); i++)
        {
            string code = (s.QuarantineOn![i] ?? string.Empty).Trim().ToUpperInvariant();
            if (code is "AE" or "CE" or "AR" or "CR" or StreamEngine.Pipeline.Delivery.MllpSinkOptions.Dropped)
            {
                quarantineOn.Add(code);
            }
            else
            {
                errors.Add($"{key}.quarantineOn[{i}]: '{s.QuarantineOn[i]}' is not AE, CE, AR, CR or Dropped (AE and CE always quarantine)");
            }
        }

        return errors.Count > before ? null : new StreamEngine.Pipeline.Delivery.MllpSinkOptions
        {
            Host = s.Host!.Trim(),
            Port = port,
            AckTimeout = timeout,
            MaxAttempts = attempts,
            Rewrites = rewrites,
            QuarantineOn = quarantineOn,
        };
    }

    private const long MinRotateBytes = 64 * 1024;

    // sinks[].rotate (ndjson): a new file once the current one reaches maxBytes or maxAge.
    private static StreamEngine.Sinks.Ndjson.NdjsonRotation? Rotation(List<string> errors, string key, string type, RotateOptions? r)
    {
        if (r is null)
        {
            return null;
        }

        if (type != "ndjson")
        {
            errors.Add($"{key}.rotate: only ndjson sinks rotate");
            return null;
        }

        int reported = errors.Count;
        long? maxBytes = null;
        if (r.MaxBytes is { } b)
        {
            // Each file is fsynced when the next starts (and its start recorded): a size under a few bundles would make one
            // file, and two fsyncs, per message.
            if (!long.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out long bytes) || bytes < MinRotateBytes)
            {
                errors.Add($"{key}.rotate.maxBytes: '{b}' is not a size of at least {MinRotateBytes} bytes (64 KiB)");
            }
            else
            {
                maxBytes = bytes;
            }
        }

        TimeSpan? maxAge = Duration(errors, $"{key}.rotate.maxAge", r.MaxAge, null);
        if (maxBytes is null && maxAge is null)
        {
            if (errors.Count == reported) // not when a value given was named wrong already
            {
                errors.Add($"{key}.rotate: give maxBytes, maxAge or both");
            }

            return null;
        }

        return new StreamEngine.Sinks.Ndjson.NdjsonRotation(maxBytes, maxAge);
    }

    /// <summary>
    /// The national data opt-out list the configuration names, read now, for a command that reads a stopped engine's
    /// record (<c>trace</c> tells a secondary-use sink's settled messages delivered or withheld by it). Null, with the
    /// problem said, when it cannot be read: the command still answers, without claiming either.
    /// </summary>
    public static StreamEngine.Policy.OptOutList? ReadOptOut(IConfiguration configuration, out string? problem)
    {
        var errors = new List<string>();
        StreamEngine.Policy.OptOutList? optOut = null;
        try
        {
            optOut = OptOut(configuration.GetSection("consent").Get<ConsentOptions>(), [], errors);
        }
        catch (InvalidOperationException e)
        {
            errors.Add("consent: " + e.Message);
        }

        problem = errors.Count > 0 ? string.Join("; ", errors) : optOut is null ? "consent: no optOutFile or consentFolder" : null;
        return problem is null ? optOut : null;
    }

    // The national data opt-out list, from a file or a folder of Consent resources; required when a sink is secondary-use.
    private static StreamEngine.Policy.OptOutList? OptOut(ConsentOptions? consent, List<SinkSettings> sinks, List<string> errors)
    {
        StreamEngine.Policy.OptOutList? optOut = null;
        if (consent is { OptOutFile: not null, ConsentFolder: not null })
        {
            errors.Add("consent: give optOutFile or consentFolder, not both");
        }
        else if (consent?.ConsentFolder is { } consentFolder)
        {
            try
            {
                optOut = Directory.Exists(consentFolder)
                    ? new StreamEngine.Policy.OptOutList(consentFolder)
                    : throw new DirectoryNotFoundException();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                errors.Add($"consent.consentFolder: cannot be read ({e.GetType().Name})");
            }
            catch (InvalidDataException e)
            {
                errors.Add($"consent.consentFolder: {e.Message}");
            }
        }
        else if (consent?.OptOutFile is { } optOutFile)
        {
            try
            {
                optOut = new StreamEngine.Policy.OptOutList(optOutFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                errors.Add($"consent.optOutFile: cannot be read ({e.GetType().Name})");
            }
            catch (InvalidDataException e)
            {
                errors.Add($"consent.optOutFile: {e.Message} (one NHS number per line; # comments)");
            }
        }

        if (sinks.Any(s => s.Purpose == SinkPurpose.SecondaryUse) && optOut is null && !errors.Any(e => e.StartsWith("consent.", StringComparison.Ordinal)))
        {
            errors.Add("consent.optOutFile: required (or consent.consentFolder) when a sink's purpose is secondary-use (the national data opt-out must apply to it)");
        }

        return optOut;
    }

    // Every key in the configuration must name a property of the options type at its place (case-insensitive, as the
    // binder matches); lists are walked item by item. Scalars, and lists of scalars, end the walk.
    private static void UnknownKeys(IConfiguration section, Type type, string path, List<string> errors)
    {
        foreach (IConfigurationSection child in section.GetChildren())
        {
            string key = path.Length == 0 ? child.Key : $"{path}.{child.Key}";
            System.Reflection.PropertyInfo? property = type.GetProperty(child.Key,
                System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase);
            if (property is null)
            {
                string typed = child.Key.ToLowerInvariant();
                string? near = type.GetProperties()
                    .Select(p => (Name: char.ToLowerInvariant(p.Name[0]) + p.Name[1..], Distance: EditDistance(p.Name.ToLowerInvariant(), typed)))
                    .Where(c => c.Distance <= 2).OrderBy(c => c.Distance).Select(c => c.Name).FirstOrDefault();
                errors.Add($"{key}: not a setting" + (near is null ? string.Empty : $" (did you mean '{near}'?)"));
                continue;
            }

            Type propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (propertyType.IsGenericType && propertyType.GetGenericTypeDefinition() == typeof(List<>))
            {
                // A single value where a list belongs ("allowedSenders": "10.9.9.9") was dropped by the binder: the engine
                // started with no allow-list, a sink with no filter.
                if (!string.IsNullOrEmpty(child.Value))
                {
                    errors.Add($"{key}: a list is expected ([...]), not a single value");
                    continue;
                }

                Type item = propertyType.GetGenericArguments()[0];
                foreach (IConfigurationSection element in child.GetChildren())
                {
                    string elementKey = $"{key}[{element.Key}]";
                    if (IsScalar(item))
                    {
                        if (element.GetChildren().Any())
                        {
                            errors.Add($"{elementKey}: a single value is expected, not a list or an object");
                        }
                    }
                    else if (!string.IsNullOrEmpty(element.Value))
                    {
                        errors.Add($"{elementKey}: an object is expected ({{...}}), not a single value");
                    }
                    else
                    {
                        UnknownKeys(element, item, elementKey, errors);
                    }
                }
            }
            else if (!IsScalar(propertyType))
            {
                if (!string.IsNullOrEmpty(child.Value))
                {
                    errors.Add($"{key}: an object is expected ({{...}}), not a single value");
                    continue;
                }

                UnknownKeys(child, propertyType, key, errors);
            }
            else if (child.GetChildren().Any())
            {
                errors.Add($"{key}: a single value is expected, not a list or an object");
            }
        }
    }

    private static bool IsScalar(Type type) => type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal);

    private static int EditDistance(string a, string b)
    {
        var row = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            row[j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }

        return row[b.Length];
    }
}
