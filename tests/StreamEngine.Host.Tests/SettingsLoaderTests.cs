using StreamEngine.Host.Configuration;
using StreamEngine.Pipeline;

namespace StreamEngine.Host.Tests;

public sealed class SettingsLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("se-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string json)
    {
        string path = Path.Combine(_dir, "streamengine.json");
        File.WriteAllText(path, json);
        return path;
    }

    private EngineSettings Load(string json, Dictionary<string, string?>? environment = null) =>
        SettingsLoader.Load(SettingsLoader.BuildConfiguration(Write(json), environment ?? []));

    private IReadOnlyList<string> Errors(string json, Dictionary<string, string?>? environment = null) =>
        Assert.Throws<ConfigurationException>(() => Load(json, environment)).Errors;

    [Fact]
    public void ShippedDefaultConfig_LoadsWithTheDocumentedDefaults()
    {
        string shipped = Path.Combine(AppContext.BaseDirectory, "config", "streamengine.json");
        EngineSettings settings = SettingsLoader.Load(SettingsLoader.BuildConfiguration(shipped, new Dictionary<string, string?>()));
        Assert.Equal("./data", settings.DataDirectory);
        ListenerSettings listener = Assert.Single(settings.Listeners);
        Assert.Equal(("127.0.0.1", 2575), (listener.Host, listener.Port));
        SinkSettings sink = Assert.Single(settings.Sinks);
        Assert.Equal(("ndjson", "./out"), (sink.Type, sink.Path));
        Assert.Equal(Durability.Fsync, settings.Durability);
        Assert.Equal((2576, "127.0.0.1", Path.Combine("./data", "admin.token")), (settings.Admin!.Port, settings.Admin.Host, settings.Admin.TokenFile));
        Assert.Equal((TimeSpan.FromDays(7), 1_000_000), (settings.Dedupe.Window, settings.Dedupe.MaxKeys));
        Assert.Equal(TimeSpan.FromDays(7), settings.Retention.ReplayWindow);
    }

    [Fact]
    public void PostgreSql_TakesAConnectionString_OrAFileHoldingIt()
    {
        EngineSettings inline = Load("""{ "listeners": [ { "name": "a" } ], "store": { "provider": "postgresql", "connectionString": "Host=db;Database=se" } }""");
        Assert.Equal((StoreProvider.PostgreSql, "Host=db;Database=se"), (inline.Store, inline.ConnectionString));
        string file = Path.Combine(_dir, "pg.connection");
        File.WriteAllText(file, "Host=db;Database=se;Password=secret\n");
        EngineSettings fromFile = Load($$"""{ "listeners": [ { "name": "a" } ], "store": { "provider": "postgresql", "connectionStringFile": "{{file}}" } }""");
        Assert.Equal("Host=db;Database=se;Password=secret", fromFile.ConnectionString);
        EngineSettings fromEnvironment = Load("""{ "listeners": [ { "name": "a" } ], "store": { "provider": "postgresql" } }""",
            new() { ["STREAMENGINE__STORE__CONNECTIONSTRING"] = "Host=db;Password=secret" });
        Assert.Equal("Host=db;Password=secret", fromEnvironment.ConnectionString);
    }

    [Theory]
    [InlineData("  \n", "store.connectionStringFile: file '{0}' is empty")]
    [InlineData("not a connection string", "store.connectionStringFile: not a valid connection string")]
    public void AConnectionStringFile_ThatIsEmptyOrNotOne_IsNamed(string content, string expected)
    {
        string file = Path.Combine(_dir, "pg.connection");
        File.WriteAllText(file, content);
        string errors = string.Join(" ", Errors($$"""{ "listeners": [ { "name": "a" } ], "store": { "provider": "postgresql", "connectionStringFile": "{{file}}" } }"""));
        Assert.Contains(string.Format(System.Globalization.CultureInfo.InvariantCulture, expected, file), errors, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "provider": "postgresql" }""", "store.connectionString: required")]
    [InlineData("""{ "provider": "postgresql", "connectionString": "Host=db;Password=secret" }""", "store.connectionString: holds a password")]
    [InlineData("""{ "provider": "postgresql", "connectionStringFile": "/nonexistent/pg" }""", "store.connectionStringFile: file")]
    [InlineData("""{ "provider": "postgresql", "connectionString": "Host=db", "connectionStringFile": "/x" }""", "store.connectionStringFile: give")]
    [InlineData("""{ "provider": "sqlite", "connectionString": "Host=db" }""", "store.connectionString: only the postgresql")]
    [InlineData("""{ "provider": "oracle" }""", "store.provider: 'oracle'")]
    public void BadStore_NamesTheKey(string store, string expected)
    {
        string secretFree = string.Join(" ", Errors($$"""{ "listeners": [ { "name": "a" } ], "store": {{store}} }"""));
        Assert.Contains(expected, secretFree, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", secretFree, StringComparison.Ordinal); // the error never echoes a password
    }

    [Theory]
    [InlineData("""{ "dedupe": { "window": "0" } }""", "dedupe.window:")]
    [InlineData("""{ "dedupe": { "maxKeys": "none" } }""", "dedupe.maxKeys:")]
    [InlineData("""{ "retention": { "interval": "off" } }""", "retention.interval:")]
    [InlineData("""{ "retention": { "replayWindow": "soon" } }""", "retention.replayWindow:")]
    [InlineData("""{ "admin": { "port": 2576, "host": "0.0.0.0" } }""", "admin.host:")]
    [InlineData("""{ "admin": { "port": "x" } }""", "admin.port:")]
    public void BadDedupeRetentionOrAdmin_NamesTheKey(string section, string expected)
    {
        string json = "{ \"listeners\": [ { \"name\": \"a\" } ], " + section.Trim()[1..^1] + " }";
        Assert.Contains(Errors(json), e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void DedupeRetentionAndAdmin_AreRead()
    {
        EngineSettings settings = Load("""
            { "listeners": [ { "name": "a" } ], "dedupe": { "window": "1.00:00:00", "maxKeys": 5000 },
              "retention": { "replayWindow": "off", "interval": "60" }, "admin": { "port": 0, "tokenFile": "/run/se.token" } }
            """);
        Assert.Equal((TimeSpan.FromDays(1), 5000), (settings.Dedupe.Window, settings.Dedupe.MaxKeys));
        Assert.Equal(((TimeSpan?)null, TimeSpan.FromMinutes(1)), (settings.Retention.ReplayWindow, settings.Retention.Interval));
        Assert.Equal((0, "/run/se.token"), (settings.Admin!.Port, settings.Admin.TokenFile));
    }

    [Fact]
    public void MinimalConfig_FillsDefaults_AndIdDefaultsToName()
    {
        EngineSettings settings = Load("""{ "listeners": [ { "name": "pas" } ], "sinks": [ { "name": "lake", "type": "ndjson" } ] }""");
        Assert.Equal("./data", settings.DataDirectory);
        Assert.Equal("pas", settings.Listeners[0].Id);
        Assert.Equal("127.0.0.1", settings.Listeners[0].Host);
        Assert.Equal(2575, settings.Listeners[0].Port);
        Assert.Equal(16 * 1024 * 1024, settings.Listeners[0].MaxFrameBytes);
        Assert.Equal("./out", settings.Sinks[0].Path);
        Assert.Equal(StartFrom.Now, settings.Sinks[0].StartFrom);
        Assert.Equal("ingest/pas/default", settings.Listeners[0].PersistenceId);
        Assert.Equal("sink/lake/pas/default", settings.Sinks[0].PersistenceIdFor(settings.Listeners[0]));
    }

    [Fact]
    public void EnvironmentVariables_OverrideTheFile()
    {
        EngineSettings settings = Load("""{ "dataDirectory": "./d", "listeners": [ { "name": "pas", "port": 2575 } ], "sinks": [] }""",
            new() { ["STREAMENGINE__LISTENERS__0__PORT"] = "3000", ["STREAMENGINE__DATADIRECTORY"] = "/x", ["OTHER__DATADIRECTORY"] = "/no" });
        Assert.Equal(3000, settings.Listeners[0].Port);
        Assert.Equal("/x", settings.DataDirectory);
    }

    [Fact]
    public void BadValues_AreAllReported_EachNamingItsKey()
    {
        IReadOnlyList<string> errors = Errors("""
            { "listeners": [ { "name": "a", "port": 70000 }, { "name": "a" }, { "host": "x" } ],
              "sinks": [ { "name": "s", "type": "kafka" }, { "name": "t", "type": "ndjson", "startFrom": "yesterday" } ],
              "store": { "durability": "sometimes" } }
            """);
        Assert.Contains(errors, e => e.StartsWith("listeners[0].port:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("listeners: id 'a' is used more than once", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("listeners[2].name: required", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("sinks[0].type:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("sinks[1].startFrom:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("store.durability:", StringComparison.Ordinal));
    }

    [Fact]
    public void TwoListenersOnOnePort_AreRefused_UnlessTheirAddressesDiffer()
    {
        IReadOnlyList<string> errors = Errors("""
            { "listeners": [ { "name": "a", "port": 2600 }, { "name": "b", "port": 2600 }, { "name": "c", "host": "0.0.0.0", "port": 2601 },
                             { "name": "d", "host": "127.0.0.2", "port": 2601 }, { "name": "e", "host": "localhost", "port": 2600 } ], "sinks": [] }
            """);
        Assert.Contains(errors, e => e.StartsWith("listeners[1].port: 2600 is already taken by listeners[0] ('a')", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("listeners[3].port: 2601 is already taken by listeners[2] ('c')", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("listeners[4].port: 2600", StringComparison.Ordinal)); // a host name may be that address
        Assert.Equal(3, errors.Count);

        EngineSettings settings = Load("""
            { "listeners": [ { "name": "a", "port": 0 }, { "name": "b", "port": 0 }, { "name": "c", "host": "127.0.0.1", "port": 2600 },
                             { "name": "d", "host": "127.0.0.2", "port": 2600 } ], "sinks": [] }
            """);
        Assert.Equal(4, settings.Listeners.Count); // port 0 picks a free port each; two addresses may share a port
    }

    [Fact]
    public void AnEmptySinkPath_IsRefused()
    {
        Assert.Contains(Errors("""{ "listeners": [ { "name": "a" } ], "sinks": [ { "name": "s", "type": "ndjson", "path": " " } ] }"""),
            e => e.StartsWith("sinks[0].path: empty", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("os", Durability.Os)]
    [InlineData("FSYNC", Durability.Fsync)]
    public void StoreDurability_IsRead(string value, Durability expected) =>
        Assert.Equal(expected, Load($$"""{ "listeners": [ { "name": "a" } ], "store": { "durability": "{{value}}" } }""").Durability);

    [Theory]
    [InlineData("1")]
    [InlineData("sometimes")]
    public void StoreDurability_Invalid_NamesTheKey(string value) =>
        Assert.Contains(Errors($$"""{ "listeners": [ { "name": "a" } ], "store": { "durability": "{{value}}" } }"""), e => e.StartsWith("store.durability:", StringComparison.Ordinal));

    [Fact]
    public void NoListener_IsAnError() =>
        Assert.Contains(Errors("""{ "sinks": [] }"""), e => e.StartsWith("listeners:", StringComparison.Ordinal));

    [Fact]
    public void IdWithPathCharacters_IsAnError() =>
        Assert.Contains(Errors("""{ "listeners": [ { "name": "../etc" } ] }"""), e => e.StartsWith("listeners[0].id:", StringComparison.Ordinal));

    [Fact]
    public void PortThatIsNotANumber_NamesTheKey()
    {
        IReadOnlyList<string> errors = Errors("""{ "listeners": [ { "name": "a", "port": "abc" } ] }""");
        Assert.Contains(errors, e => e.StartsWith("listeners[0].port: 'abc'", StringComparison.Ordinal));
    }

    [Fact]
    public void MisspelledKey_NamesItsPath_AndTheOtherProblemsAreListedToo()
    {
        IReadOnlyList<string> errors = Errors("""
            { "listeners": [ { "name": "a", "prot": 1 }, { "name": "b", "port": 99999, "tls": { "certFile": "x" } } ],
              "sinks": [ { "name": "s", "type": "ndjson", "lane": 4, "filter": { "messageType": [ "ADT" ] } } ],
              "listener": [ { "name": "c" } ], "store": { "durability": "sometimes" } }
            """);
        Assert.Contains("listeners[0].prot: not a setting (did you mean 'port'?)", errors);
        Assert.Contains("listeners[1].tls.certFile: not a setting", errors);
        Assert.Contains("sinks[0].lane: not a setting (did you mean 'lanes'?)", errors);
        Assert.Contains("sinks[0].filter.messageType: not a setting (did you mean 'messageTypes'?)", errors);
        Assert.Contains("listener: not a setting (did you mean 'listeners'?)", errors);
        Assert.Contains(errors, e => e.StartsWith("listeners[1].port: '99999'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("store.durability:", StringComparison.Ordinal));
    }

    [Fact]
    public void BadFlag_InTheSecondListener_IsNamed_NotDroppedWithItsListener()
    {
        IReadOnlyList<string> errors = Errors("""
            { "listeners": [ { "name": "a", "port": 2575 }, { "name": "b", "port": 2577, "mllpRelease2": "yes" } ] }
            """);
        Assert.Equal(["listeners[1].mllpRelease2: 'yes' is not true or false"], errors);
        Assert.True(Load("""{ "listeners": [ { "name": "a" }, { "name": "b", "port": 2577, "mllpRelease2": true } ] }""").Listeners[1].MllpRelease2);
    }

    [Fact]
    public void MisspelledEnvironmentOverride_NamesIt() =>
        Assert.Contains("STORE.DURABILTY: not a setting (did you mean 'durability'?)",
            Errors("""{ "listeners": [ { "name": "a" } ] }""", new() { ["STREAMENGINE__STORE__DURABILTY"] = "os" }));

    [Fact]
    public void MissingFile_IsAnErrorNamingIt()
    {
        var e = Assert.Throws<ConfigurationException>(() => SettingsLoader.BuildConfiguration(Path.Combine(_dir, "nope.json")));
        Assert.Contains("nope.json", e.Errors[0], StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidJson_IsAnErrorNamingTheFile()
    {
        var e = Assert.Throws<ConfigurationException>(() => SettingsLoader.BuildConfiguration(Write("{ not json")));
        Assert.Contains("streamengine.json", e.Errors[0], StringComparison.Ordinal);
    }

    [Fact]
    public void MappingProfile_IsLoaded_AndABadOneFailsNamingTheKeyAndTheFile()
    {
        string examples = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "config", "examples", "trust-profile.json"));
        EngineSettings settings = Load($$"""{ "listeners": [ { "name": "a" } ], "mapping": { "profile": "{{examples.Replace("\\", "/", StringComparison.Ordinal)}}" } }""");
        Assert.Equal("R0B", settings.MappingProfile.MrnAuthority);

        string bad = Path.Combine(_dir, "bad-profile.json");
        File.WriteAllText(bad, """{ "encounterStatus": { "A04": "maybe" } }""");
        string error = Assert.Single(Errors($$"""{ "listeners": [ { "name": "a" } ], "mapping": { "profile": "{{bad.Replace("\\", "/", StringComparison.Ordinal)}}" } }"""));
        Assert.StartsWith("mapping.profile: Trust profile bad-profile.json: encounterStatus.A04:", error, StringComparison.Ordinal);
    }

    [Fact]
    public void FhirSink_IsConfigured_WithItsSecretFromAFile_AndBadKeysAreNamed()
    {
        string keyFile = Path.Combine(_dir, "api.key");
        File.WriteAllText(keyFile, "k");
        EngineSettings settings = Load($$"""
            { "listeners": [ { "name": "a" } ],
              "sinks": [ { "name": "ehr", "type": "fhir", "baseUrl": "https://fhir.example.nhs.uk/R4", "timeout": "15", "bundleType": "batch",
                           "auth": { "type": "apiKey", "header": "apikey", "keyFile": "{{keyFile.Replace("\\", "/", StringComparison.Ordinal)}}" } } ] }
            """);
        StreamEngine.Sinks.Fhir.FhirSinkOptions fhir = settings.Sinks.Single().Fhir!;
        Assert.Equal("https://fhir.example.nhs.uk/R4/", fhir.BaseUrl.AbsoluteUri);
        Assert.Equal((TimeSpan.FromSeconds(15), true, StreamEngine.Sinks.Fhir.FhirAuthKind.ApiKey, "apikey"), (fhir.Timeout, fhir.Batch, fhir.Auth, fhir.ApiKeyHeader));
        Assert.DoesNotContain("k", fhir.Secret!.ToString().Replace(keyFile, string.Empty, StringComparison.Ordinal).Replace("secret from file ", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);

        IReadOnlyList<string> errors = Errors("""
            { "listeners": [ { "name": "a" } ],
              "sinks": [ { "name": "a", "type": "fhir" },
                         { "name": "b", "type": "fhir", "baseUrl": "ftp://x", "bundleType": "message" },
                         { "name": "c", "type": "fhir", "baseUrl": "https://u:p@x/fhir" },
                         { "name": "d", "type": "fhir", "baseUrl": "https://x/fhir", "auth": { "type": "basic", "passwordFile": "/nope" } },
                         { "name": "e", "type": "fhir", "baseUrl": "https://x/fhir", "auth": { "type": "apiKey" } },
                         { "name": "f", "type": "ndjson", "baseUrl": "https://x/fhir" } ] }
            """);
        Assert.Contains(errors, e => e.StartsWith("sinks[0].baseUrl: required", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("sinks[1].baseUrl:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("sinks[1].bundleType:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("sinks[2].baseUrl: credentials", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("sinks[3].auth.username:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("sinks[3].auth.passwordFile: file not found", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("sinks[4].auth: give exactly one of keyFile or keyEnv", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("sinks[5]: baseUrl", StringComparison.Ordinal));
        Assert.DoesNotContain(errors, e => e.Contains(":p@", StringComparison.Ordinal)); // the password in the URL is not echoed

        // A secret inline in the JSON is not a key the configuration knows: refused at start-up.
        Assert.Throws<ConfigurationException>(() => Load("""{ "listeners": [ { "name": "a" } ], "sinks": [ { "name": "a", "type": "fhir", "baseUrl": "https://x", "auth": { "type": "apiKey", "key": "secret" } } ] }"""));
    }

    [Fact]
    public void MllpSink_IsConfigured_AndBadRewritesAreNamed()
    {
        EngineSettings settings = Load("""{ "listeners": [ { "name": "a" } ], "sinks": [ { "name": "epr", "type": "mllp", "host": "10.1.1.5", "port": "2576", "timeout": "10", "rewrite": [ { "path": "MSH-5", "value": "EPR" }, { "path": "PID-2", "value": "" } ] } ] }""");
        StreamEngine.Pipeline.Delivery.MllpSinkOptions mllp = settings.Sinks.Single().Mllp!;
        Assert.Equal(("10.1.1.5", 2576, TimeSpan.FromSeconds(10)), (mllp.Host, mllp.Port, mllp.AckTimeout));
        Assert.Equal([new StreamEngine.Pipeline.Delivery.Hl7Rewrite("MSH-5", "EPR"), new StreamEngine.Pipeline.Delivery.Hl7Rewrite("PID-2", null)], mllp.Rewrites);

        IReadOnlyList<string> errors = Errors("""{ "listeners": [ { "name": "a" } ], "sinks": [ { "name": "epr", "type": "mllp", "port": "70000", "rewrite": [ { "path": "MSH-10", "value": "X" }, { "path": "nonsense" } ] } ] }""");
        Assert.Contains(errors, e => e.StartsWith("sinks[0].host: required", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("sinks[0].port: '70000'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("sinks[0].rewrite[0].path: 'MSH-10' may not be rewritten", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("sinks[0].rewrite[1].path:", StringComparison.Ordinal));
    }

    [Fact]
    public void AValueOfTheWrongShape_IsNamed_NotDropped()
    {
        // The binder dropped a single value given for a list: the engine started with no allow-list and a sink unfiltered.
        Assert.Equal(
            [
                "listeners[0].allowedSenders: a list is expected ([...]), not a single value",
                "sinks[0].filter.messageTypes: a list is expected ([...]), not a single value",
                "sinks[1].quarantineOn: a list is expected ([...]), not a single value",
            ],
            Errors("""
                { "listeners": [ { "name": "a", "allowedSenders": "10.9.9.9" } ],
                  "sinks": [ { "name": "s", "type": "ndjson", "filter": { "messageTypes": "ORU" } },
                             { "name": "m", "type": "mllp", "host": "h", "port": "2576", "quarantineOn": "AR" } ] }
                """).Where(e => !e.StartsWith("sinks[1]: ", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Equal(
            [
                "listeners[0].allowedSenders[0]: a single value is expected, not a list or an object",
                "listeners[0].port: a single value is expected, not a list or an object",
                "listeners[0].tls: an object is expected ({...}), not a single value",
                "sinks[0]: an object is expected ({...}), not a single value",
            ],
            Errors("""
                { "listeners": [ { "name": "a", "port": [2575], "tls": true, "allowedSenders": [ { "cidr": "10.0.0.0/8" } ] } ],
                  "sinks": [ "s" ] }
                """).Where(e => e.Contains("expected", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        // Empty lists and nulls stay what they were: nothing given.
        EngineSettings empty = Load("""{ "listeners": [ { "name": "a", "allowedSenders": [], "tls": null } ], "sinks": [ { "name": "s", "type": "ndjson", "filter": { "messageTypes": [] } } ] }""");
        Assert.Empty(empty.Sinks.Single().Filter.MessageTypes);
    }

    [Fact]
    public void MllpSink_QuarantineOn_AddsToAeAndCe_AndABadCodeIsNamed()
    {
        Assert.Equal(["AE", "CE"], Load("""{ "listeners": [ { "name": "a" } ], "sinks": [ { "name": "epr", "type": "mllp", "host": "h", "port": "2576" } ] }""")
            .Sinks.Single().Mllp!.QuarantineOn.Order(StringComparer.Ordinal));
        Assert.Equal(["AE", "AR", "CE"], Load("""{ "listeners": [ { "name": "a" } ], "sinks": [ { "name": "epr", "type": "mllp", "host": "h", "port": "2576", "quarantineOn": [" ar "] } ] }""")
            .Sinks.Single().Mllp!.QuarantineOn.Order(StringComparer.Ordinal));
        Assert.Equal(["AE", "CE", "DROPPED"], Load("""{ "listeners": [ { "name": "a" } ], "sinks": [ { "name": "epr", "type": "mllp", "host": "h", "port": "2576", "quarantineOn": ["Dropped"] } ] }""")
            .Sinks.Single().Mllp!.QuarantineOn.Order(StringComparer.Ordinal));
        Assert.Equal(["sinks[0].quarantineOn[1]: 'AA' is not AE, CE, AR, CR or Dropped (AE and CE always quarantine)"],
            Errors("""{ "listeners": [ { "name": "a" } ], "sinks": [ { "name": "epr", "type": "mllp", "host": "h", "port": "2576", "quarantineOn": ["CR", "AA"] } ] }"""));
        Assert.Equal(["sinks[0]: host, port, rewrite and quarantineOn are for mllp sinks"],
            Errors("""{ "listeners": [ { "name": "a" } ], "sinks": [ { "name": "f", "type": "ndjson", "quarantineOn": ["AR"] } ] }"""));
    }

    [Fact]
    public void SinkFilter_IsRead_AndABadEntryIsNamed()
    {
        EngineSettings settings = Load("""{ "listeners": [ { "name": "a" } ], "sinks": [ { "name": "lab", "type": "ndjson", "filter": { "messageTypes": ["ORU"], "events": ["ORU^R01"], "sendingFacilities": ["RX1"] } } ] }""");
        StreamEngine.Pipeline.Delivery.SinkFilter filter = settings.Sinks.Single().Filter;
        Assert.Equal(["ORU"], filter.MessageTypes);
        Assert.Equal(["ORU^R01"], filter.Events);
        string error = Assert.Single(Errors("""{ "listeners": [ { "name": "a" } ], "sinks": [ { "name": "lab", "type": "ndjson", "filter": { "events": ["R01"] } } ] }"""));
        Assert.StartsWith("sinks[0].filter.events: 'R01'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void NdjsonRotation_IsRead_AndBadValuesAreNamed()
    {
        EngineSettings settings = Load("""{ "listeners": [ { "name": "a" } ], "sinks": [ { "name": "lake", "type": "ndjson", "rotate": { "maxBytes": "104857600", "maxAge": "01:00:00" } } ] }""");
        Assert.Equal(new StreamEngine.Sinks.Ndjson.NdjsonRotation(104857600, TimeSpan.FromHours(1)), settings.Sinks.Single().Rotation);
        IReadOnlyList<string> errors = Errors("""{ "listeners": [ { "name": "a" } ], "sinks": [ { "name": "lake", "type": "ndjson", "rotate": { "maxBytes": "65535" } }, { "name": "b", "type": "ndjson", "rotate": { "maxAge": "off" } } ] }""");
        Assert.Contains(errors, e => e.StartsWith("sinks[0].rotate.maxBytes: '65535' is not a size of at least 65536 bytes", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("sinks[1].rotate: give maxBytes, maxAge or both", StringComparison.Ordinal));
        Assert.DoesNotContain(errors, e => e.StartsWith("sinks[0].rotate:", StringComparison.Ordinal)); // maxBytes was given, wrong: one error
    }

    [Fact]
    public void Lanes_AreRead_MaxConcurrentRequestsIsTheirFhirName_AndBadValuesAreNamed()
    {
        EngineSettings settings = Load("""
            { "listeners": [ { "name": "a" } ],
              "sinks": [ { "name": "lake", "type": "ndjson" }, { "name": "file", "type": "ndjson", "lanes": "2" },
                         { "name": "ehr", "type": "fhir", "baseUrl": "https://x/fhir", "maxConcurrentRequests": "8" } ] }
            """);
        Assert.Equal([SinkSettings.DefaultLanes, 2, 8], settings.Sinks.Select(s => s.Lanes));

        IReadOnlyList<string> errors = Errors("""
            { "listeners": [ { "name": "a" } ],
              "sinks": [ { "name": "a", "type": "ndjson", "lanes": "0" },
                         { "name": "b", "type": "ndjson", "maxConcurrentRequests": "2" },
                         { "name": "c", "type": "fhir", "baseUrl": "https://x/fhir", "lanes": "2", "maxConcurrentRequests": "3" },
                         { "name": "d", "type": "fhir", "baseUrl": "https://x/fhir", "maxAttempts": "many" } ] }
            """);
        Assert.Contains(errors, e => e.StartsWith("sinks[0].lanes: '0' is not a number from 1 to 256", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("sinks[1].maxConcurrentRequests: is for fhir sinks", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("sinks[2].maxConcurrentRequests: 3 and lanes 2", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("sinks[3].maxAttempts: 'many' is not a number from 1 to 100", StringComparison.Ordinal));
    }
}
