using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StreamEngine.Host.Configuration;
using StreamEngine.Pipeline;

namespace StreamEngine.Host.Commands;

/// <summary><c>streamengine run</c>: starts the engine and runs until Ctrl-C or SIGTERM.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config", "-c")
        {
            Description = "Configuration file (JSON). Environment variables STREAMENGINE__... override it.",
            DefaultValueFactory = _ => SettingsLoader.DefaultConfigFile,
        };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Debug logging (still without message content)." };
        var command = new Command("run", "Start the engine: MLLP listeners, ingest journal, sinks.") { config, verbose };
        command.SetAction(async (parse, cancellationToken) =>
        {
            EngineSettings settings;
            try
            {
                settings = SettingsLoader.Load(SettingsLoader.BuildConfiguration(parse.GetValue(config)!));
            }
            catch (ConfigurationException e)
            {
                await Console.Error.WriteLineAsync(e.Message);
                return 2;
            }

            FileStream? lockFile;
            try
            {
                lockFile = DataDirectoryLock.TryAcquire(settings.DataDirectory);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Not a folder this process can create or write (a file of that name, a read-only mount, no permission).
                await Console.Error.WriteLineAsync(new ConfigurationException([$"dataDirectory: '{Path.GetFullPath(settings.DataDirectory)}' "
                    + $"cannot be used as the data directory ({e.GetType().Name}: {e.Message})"]).Message);
                return 2;
            }

            using FileStream? held = lockFile;
            if (held is null)
            {
                await Console.Error.WriteLineAsync($"Another engine is running on the data directory '{Path.GetFullPath(settings.DataDirectory)}' "
                    + "(it holds engine.lock there; dataDirectory): two engines on one journal would overwrite each other's records; this one stops");
                return 1;
            }

            await using JournalLock? journalLock = LockJournal(settings, out string? refusal);
            if (refusal is not null)
            {
                await Console.Error.WriteLineAsync(refusal);
                return 1;
            }

            IHost built;
            try
            {
                built = EngineHost.Build(settings, parse.GetValue(verbose) ? LogLevel.Debug : LogLevel.Information);
            }
            catch (StreamEngine.Pipeline.Ingest.PatientKeyException e)
            {
                await Console.Error.WriteLineAsync(e.Message);
                return 1;
            }

            using IHost host = built;
            if (StreamEngine.Diagnostics.GcBudget.Describe() is { } budget)
            {
                host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("StreamEngine.Runtime")
                    .Log(budget.Warning ? LogLevel.Warning : LogLevel.Information, "{Budget}", budget.Text);
            }

            if (DataDirectoryLock.OpenToOthers(settings.DataDirectory) is { } open)
            {
                host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("StreamEngine.DataDirectory").LogWarning("{Open}", open);
            }

            EngineExit exit = host.Services.GetRequiredService<EngineExit>();
            journalLock?.Watch(exit, host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("StreamEngine.JournalLock"));
            await host.RunAsync(cancellationToken);
            if (journalLock is not null)
            {
                await journalLock.DisposeAsync(); // the checks end while the host's logging is still there
            }

            if (exit.Reason is { } reason)
            {
                await Console.Error.WriteLineAsync(reason); // also logged; the exit code tells a service manager
                return 1;
            }

            return 0;
        });
        return command;
    }

    // A PostgreSQL journal is held as the data directory is: another engine (another data directory, another machine)
    // already writing into this database must not be joined.
    private static JournalLock? LockJournal(EngineSettings settings, out string? refusal)
    {
        refusal = null;
        if (settings.Store != StoreProvider.PostgreSql)
        {
            return null;
        }

        try
        {
            JournalLock? held = JournalLock.TryTake(PostgresStore.ConnectionString(settings.ConnectionString!, settings.Durability));
            if (held is null)
            {
                refusal = "Another engine is running on this PostgreSQL database (it holds the journal's lock; store.connectionString or connectionStringFile): "
                    + "two engines on one journal would overwrite each other's records; this one stops";
            }

            return held;
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or System.Net.Sockets.SocketException or TimeoutException or InvalidOperationException)
        {
            refusal = $"Cannot open the PostgreSQL store (store.connectionString or connectionStringFile): {e.GetType().Name}: {e.Message}";
            return null;
        }
    }
}
