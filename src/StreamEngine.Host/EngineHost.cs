using Akka;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Persistence.Hosting;
using Akka.Persistence.Sql.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StreamEngine.Pipeline;
using LinqToDB;
using StreamEngine.Pipeline.Delivery;
using StreamEngine.Pipeline.Index;
using StreamEngine.Pipeline.Ingest;
using StreamEngine.Host.Journal;

namespace StreamEngine.Host;

/// <summary>
/// The only composition root: builds the generic host with the Akka actor system, the SQL journal (embedded
/// SQLite or PostgreSQL), the message index, the event serializer and the engine actor, all from <see cref="EngineSettings"/>.
/// </summary>
public static class EngineHost
{
    /// <summary>Builds the host; <see cref="IHost.RunAsync"/> runs it until Ctrl-C or SIGTERM.</summary>
    public static IHost Build(EngineSettings settings, LogLevel minimumLevel = LogLevel.Information)
    {
        // Blocking calls hold pool threads (a journal commit, SQLite reads under the async API, a file sink's fsync), and the
        // pool injects threads slowly once all are busy: keep one spare per actor that may block (each stream's journal
        // and each of its sinks) and a few more. Not many more: every thread the pool may wake for a burst of small actor
        // turns is a context switch on a small machine (32 cost 5-15% of ingest throughput on two cores; perf/RESULTS.md).
        ThreadPool.GetMinThreads(out int workers, out int io);
        int spare = Math.Max(Math.Max(8, 2 * Environment.ProcessorCount), 4 + (settings.Listeners.Count * (1 + settings.Sinks.Count)));
        ThreadPool.SetMinThreads(Math.Max(workers, spare), Math.Max(io, spare));
        DataDirectoryLock.CreateFolder(settings.DataDirectory);
        EngineStore store = OpenStore(settings);
        PatientKeyHasher hasher = PatientKeyHasher.ForJournal(settings.DataDirectory, store.Index);

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
            ConfigurePersistence(akka, store);
            akka.AddHocon(ConfigurationFactory.ParseString($$"""
                {{EngineActor.BlockingSinkDispatcher}} {
                  type = PinnedDispatcher
                }
                """), HoconAddMode.Prepend);
            akka.WithActors((system, registry, resolver) =>
            {
                IActorRef engine = system.ActorOf(EngineActor.Props(settings, store.Index, hasher, resolver.GetService<EngineExit>()), "engine");
                registry.Register<EngineActor>(engine);
                // On a clean stop each sink records its progress before the actors stop: what the commands read with the
                // engine stopped is then exact (a kill -9 leaves it at the last periodic record, about a second old).
                CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseServiceStop, "sinks-record-progress", async () =>
                {
                    try
                    {
                        await engine.Ask<ProgressRecorded>(RecordProgress.Instance, TimeSpan.FromSeconds(4));
                    }
                    catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
                    {
                        // A sink busy or restarting: its lines are counted from its output when the engine next starts.
                    }

                    return Done.Instance;
                });
            });
        });
        builder.Services.AddSingleton(services => new EngineExit(() => services.GetRequiredService<IHostApplicationLifetime>().StopApplication()));
        builder.Services.AddHostedService<ReadinessReporter>();
        builder.Services.AddHostedService<Admin.AdminServer>();
        return builder.Build();
    }

    /// <summary>The journal store of the settings: linq2db options for the SQL journal (null in memory) and the message index.</summary>
    public static EngineStore OpenStore(EngineSettings settings)
    {
        switch (settings.Store)
        {
            case StoreProvider.Sqlite:
                string sqlite = SqliteStore.ConnectionString(settings.DataDirectory);
                SqliteStore.PrepareJournal(sqlite);
                string index = SqliteStore.IndexConnectionString(settings.DataDirectory);
                SqliteStore.Prepare(index);
                string synchronous = SqliteStore.Synchronous(settings.Durability);
                return new EngineStore(settings.Store, SqliteStore.DataOptions(sqlite, settings.Durability), new SqlMessageIndex(SqliteStore.IndexOpener(index), rowsPerStatement: 1, SqliteRowReader.Instance),
                    () => new SqliteJournalRowWriter(sqlite, synchronous));
            case StoreProvider.PostgreSql:
                string postgres = PostgresStore.ConnectionString(settings.ConnectionString!, settings.Durability);
                PostgresStore.PrepareJournal(postgres);
                return new EngineStore(settings.Store, PostgresStore.DataOptions(postgres),
                    new SqlMessageIndex(PostgresStore.Opener(PostgresStore.IndexConnectionString(settings.ConnectionString!))),
                    () => new PostgresJournalRowWriter(postgres));
            default:
                return new EngineStore(settings.Store, null, new InMemoryMessageIndex());
        }
    }

    /// <summary>
    /// The store of the settings opened to read only: nothing is created, changed
    /// or checkpointed, and a write fails (SQLite opened read-only; PostgreSQL sessions in read-only transactions).
    /// Null when the store holds no journal yet.
    /// </summary>
    public static EngineStore? OpenStoreReadOnly(EngineSettings settings)
    {
        switch (settings.Store)
        {
            case StoreProvider.Sqlite:
                if (!File.Exists(SqliteStore.JournalFile(settings.DataDirectory)))
                {
                    return null;
                }

                string sqlite = SqliteStore.ReadOnly(SqliteStore.ConnectionString(settings.DataDirectory));
                return new EngineStore(settings.Store, SqliteStore.DataOptions(sqlite, settings.Durability),
                    new SqlMessageIndex(SqliteStore.IndexOpener(SqliteStore.ReadOnly(SqliteStore.IndexConnectionString(settings.DataDirectory))), rowsPerStatement: 1, SqliteRowReader.Instance),
                    NoWrites);
            case StoreProvider.PostgreSql:
                string postgres = PostgresStore.ReadOnly(PostgresStore.ConnectionString(settings.ConnectionString!, settings.Durability));
                if (!PostgresStore.HasJournal(postgres))
                {
                    return null;
                }

                return new EngineStore(settings.Store, PostgresStore.DataOptions(postgres),
                    new SqlMessageIndex(PostgresStore.Opener(PostgresStore.ReadOnly(PostgresStore.IndexConnectionString(settings.ConnectionString!)))),
                    NoWrites);
            default:
                return null; // in memory: nothing outlives the engine
        }
    }

    private static IJournalRowWriter NoWrites() => throw new InvalidOperationException("The store is open to read only.");

    /// <summary>
    /// Akka.Persistence for a store: the SQL journal and snapshot store (or in-memory ones), and our event serializer.
    /// The journal contract tests run against exactly this.
    /// </summary>
    public static void ConfigurePersistence(AkkaConfigurationBuilder akka, EngineStore store)
    {
        if (store.Sql is null)
        {
            akka.WithInMemoryJournal().WithInMemorySnapshotStore();
        }
        else
        {
            // The store's tables are created by OpenStore (or exist, when it is opened to read only): never by the plugin.
            ConfigureSql(akka, store.Sql, store.Provider, store.JournalWriter!);
        }

        akka.WithCustomSerializer("streamengine", [typeof(IIngestEvent), typeof(IngestSnapshot), typeof(ISinkEvent)],
            system => new IngestEventSerializer(system));
    }

    private static void ConfigureSql(AkkaConfigurationBuilder akka, DataOptions options, StoreProvider store, Func<IJournalRowWriter> writer)
    {
        akka.WithSqlPersistence(options, autoInitialize: false);
        // The plugin's journal with its writes done directly (one prepared insert, one commit per group): see
        // DirectWriteJournal. Reads, recovery, deletes and the read journal stay the plugin's, on the same table.
        akka.AddSetup(new JournalWriterSetup(writer));
        Type journal = typeof(DirectWriteJournal);
        // No tags are written. The plugin's own write queue is unused (parallelism 1 on SQLite all the same: one writer).
        // On SQLite, reads run in deferred transactions ("read-uncommitted" maps to a plain BEGIN): the default is BEGIN
        // IMMEDIATE, which takes the write lock, so every catch-up or replay read would stall journal commits.
        // The plugin's circuit breaker (on reads and recovery: DirectWriteJournal's writes skip it) opens after 10 failed
        // calls and then fails every call for 30 s (again after each failed trial): after a store outage that kept the
        // journal from recovering for up to a minute after the store was back. The journals' backoff supervisors already
        // space the attempts, so the breaker only tries again after 1 s.
        int parallelism = store == StoreProvider.Sqlite ? 1 : 3;
        string reads = store == StoreProvider.Sqlite ? "read-uncommitted" : "unspecified";
        akka.AddHocon(ConfigurationFactory.ParseString($$"""
            akka.persistence.journal.sql {
              class = "{{journal.FullName}}, {{journal.Assembly.GetName().Name}}"
              parallelism = {{parallelism}}
              tag-write-mode = Csv
              read-isolation-level = {{reads}}
            }
            akka.persistence.query.journal.sql {
              tag-read-mode = Csv
              read-isolation-level = {{reads}}
            }
            akka.persistence.snapshot-store.sql.read-isolation-level = {{reads}}
            akka.persistence.journal.sql.circuit-breaker.reset-timeout = 1s
            akka.persistence.snapshot-store.sql.circuit-breaker.reset-timeout = 1s
            """), HoconAddMode.Prepend);
    }
}

/// <summary>A journal store: which provider, its linq2db options (null for memory), and its message index.</summary>
/// <param name="Provider">Which store.</param>
/// <param name="Sql">linq2db options for Akka.Persistence.Sql, or null in memory.</param>
/// <param name="Index">The message index beside the journal.</param>
/// <param name="JournalWriter">Opens the journal's row writer (null in memory).</param>
public sealed record EngineStore(StoreProvider Provider, DataOptions? Sql, IMessageIndex Index, Func<IJournalRowWriter>? JournalWriter = null);
