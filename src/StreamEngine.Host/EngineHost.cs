using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Persistence.Hosting;
using Akka.Persistence.Sql.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StreamEngine.Pipeline;
using StreamEngine.Pipeline.Delivery;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.Host;

/// <summary>
/// The only composition root: builds the generic host with the Akka actor system, the SQL journal on embedded
/// SQLite, the event serializer and the engine actor, all from <see cref="EngineSettings"/>.
/// </summary>
public static class EngineHost
{
    /// <summary>Builds the host; <see cref="IHost.RunAsync"/> runs it until Ctrl-C or SIGTERM.</summary>
    public static IHost Build(EngineSettings settings, LogLevel minimumLevel = LogLevel.Information)
    {
        Directory.CreateDirectory(Path.GetFullPath(settings.DataDirectory));
        string connectionString = SqliteStore.ConnectionString(settings.DataDirectory);
        if (settings.Store == StoreProvider.Sqlite)
        {
            SqliteStore.Prepare(connectionString);
        }

        HostApplicationBuilder builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(minimumLevel);
        builder.Logging.AddFilter("StreamEngine", minimumLevel);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });
        builder.Services.AddSingleton(settings);
        builder.Services.AddAkka("streamengine", (akka, _) =>
        {
            akka.ConfigureLoggers(loggers =>
            {
                loggers.LogLevel = minimumLevel <= LogLevel.Debug ? Akka.Event.LogLevel.DebugLevel : Akka.Event.LogLevel.InfoLevel;
                loggers.ClearLoggers();
                loggers.AddLoggerFactory();
            });
            if (settings.Store == StoreProvider.Memory)
            {
                akka.WithInMemoryJournal().WithInMemorySnapshotStore();
            }
            else
            {
                ConfigureSql(akka, connectionString, settings.Durability);
            }

            akka.WithCustomSerializer("streamengine", [typeof(IIngestEvent), typeof(WatermarkAdvanced)],
                system => new IngestEventSerializer(system));
            akka.WithActors((system, registry) =>
            {
                IActorRef engine = system.ActorOf(EngineActor.Props(settings), "engine");
                registry.Register<EngineActor>(engine);
            });
        });
        builder.Services.AddHostedService<ReadinessReporter>();
        return builder.Build();
    }

    private static void ConfigureSql(AkkaConfigurationBuilder akka, string connectionString, Durability durability)
    {
        akka.WithSqlPersistence(SqliteStore.DataOptions(connectionString, durability), autoInitialize: true);
        // SQLite allows one writer: more parallel journal writers would only contend for the lock.
        akka.AddHocon(ConfigurationFactory.FromObject(new { akka = new { persistence = new { journal = new { sql = new { parallelism = 1 } } } } }),
            HoconAddMode.Prepend);
    }
}
