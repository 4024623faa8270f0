using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StreamEngine.Host;
using StreamEngine.Pipeline;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// An actor system with exactly the engine's persistence (<see cref="EngineHost.ConfigurePersistence"/>) on embedded
/// SQLite in a temp folder or on a fresh PostgreSQL database, and a TestKit on it.
/// </summary>
internal sealed class PersistenceHost : IAsyncDisposable
{
    private IHost? _host;

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("se-persist-").FullName;

    public EngineStore? Store { get; private set; }

    public EngineSettings? Settings { get; private set; }

    public async Task<Akka.TestKit.Xunit2.TestKit> StartAsync(string provider)
    {
        Settings = new EngineSettings
        {
            DataDirectory = Directory,
            Listeners = [],
            Sinks = [],
            ReadJournalPluginId = StreamEngine.Host.Configuration.SettingsLoader.ReadJournalPluginId,
            Store = provider == "postgresql" ? StoreProvider.PostgreSql : StoreProvider.Sqlite,
            ConnectionString = provider == "postgresql" ? await TestPostgres.CreateDatabaseAsync() : null,
        };
        Store = EngineHost.OpenStore(Settings);
        HostApplicationBuilder builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddAkka("persistence", (akka, _) => EngineHost.ConfigurePersistence(akka, Store));
        _host = builder.Build();
        await _host.StartAsync();
        return new Akka.TestKit.Xunit2.TestKit(_host.Services.GetRequiredService<ActorSystem>());
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
