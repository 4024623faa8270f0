using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StreamEngine.Pipeline;
using StreamEngine.Pipeline.Listening;

namespace StreamEngine.Host;

/// <summary>Logs, once every listener accepts connections, where each one is bound (port 0 picks a free port).</summary>
internal sealed partial class ReadinessReporter(IRequiredActor<EngineActor> engine, ILogger<ReadinessReporter> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        IActorRef actor = await engine.GetAsync(stoppingToken);
        try
        {
            Bindings bindings = await actor.Ask<Bindings>(GetBindings.Instance, TimeSpan.FromMinutes(2), stoppingToken);
            foreach (ListenerBound bound in bindings.Listeners)
            {
                LogReady(bound.ListenerId, bound.Endpoint.ToString() ?? string.Empty);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped before ready.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Listener {ListenerId} ready on {Endpoint}")]
    private partial void LogReady(string listenerId, string endpoint);
}
