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
    public void MisspelledKey_NamesIt()
    {
        var e = Assert.Throws<ConfigurationException>(() => Load("""{ "listeners": [ { "name": "a", "prot": 1 } ] }"""));
        Assert.Contains("prot", e.Message, StringComparison.Ordinal);
    }

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
}
