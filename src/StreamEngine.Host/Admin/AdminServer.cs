using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StreamEngine.Pipeline;
using StreamEngine.Pipeline.Admin;

namespace StreamEngine.Host.Admin;

/// <summary>
/// The admin endpoint: a small HTTP API on loopback for <c>status</c>, <c>trace</c>, <c>quarantine</c> and
/// <c>replay</c>, each request authorised by the bearer token in <c>admin.tokenFile</c>. It only asks the engine
/// actor; the journal keeps its single writer. Answers carry no message content, except a quarantined message's
/// raw text when asked for explicitly.
/// </summary>
internal sealed partial class AdminServer(EngineSettings settings, IRequiredActor<EngineActor> engine, EngineExit exit, ILogger<AdminServer> logger) : IHostedService
{
    /// <summary>JSON of the admin API (and of the CLI that reads it).</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        WriteIndented = true,
    };

    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(60);

    // A replay runs while the request waits (rate-capped replays can be long); a sink that restarts mid-replay never
    // answers, so the wait is bounded.
    private static readonly TimeSpan ReplayTimeout = TimeSpan.FromHours(6);
    private WebApplication? _app;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (settings.Admin is not { } admin)
        {
            return;
        }

        string token = AdminToken.LoadOrCreate(admin.TokenFile);
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Parse(admin.Host), admin.Port));
        WebApplication app = builder.Build();
        app.Use(async (context, next) =>
        {
            string? header = context.Request.Headers.Authorization;
            if (header is null || !header.StartsWith("Bearer ", StringComparison.Ordinal) || !AdminToken.Matches(token, header["Bearer ".Length..].Trim()))
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                await context.Response.WriteAsync("admin token required (Authorization: Bearer <token from admin.tokenFile>)\n");
                return;
            }

            await next(context);
        });

        app.MapGet("/status", async () => Results.Json(await Ask<EngineStatus>(GetStatus.Instance), Json));
        app.MapGet("/trace", async (string? controlId, string? mrn, string? since, int? limit) =>
        {
            if (controlId is null && mrn is null)
            {
                return Results.BadRequest("give controlId or mrn");
            }

            DateTimeOffset? from = null;
            if (since is not null)
            {
                if (!DateTimeOffset.TryParse(since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset parsed))
                {
                    return Results.BadRequest("since: not a date/time");
                }

                from = parsed;
            }

            return Results.Json(await Ask<TraceResult>(new TraceLookup(controlId, mrn, from, limit ?? 100)), Json);
        });
        app.MapGet("/quarantine", async (string? sink) => Results.Json(await Ask<QuarantineList>(new ListQuarantine(sink)), Json));
        app.MapGet("/quarantine/{sink}/{listener}/{seq}", async (string sink, string listener, string seq, bool? raw) =>
        {
            object shown = await Ask<object>(new ShowQuarantined($"{sink}/{listener}/{seq}", raw == true));
            return Results.Json(shown, Json, statusCode: shown is QuarantineActionResult { Ok: false } ? StatusCodes.Status404NotFound : StatusCodes.Status200OK);
        });
        app.MapPost("/quarantine/{sink}/{listener}/{seq}/retry", async (string sink, string listener, string seq) =>
            Action(await Ask<QuarantineActionResult>(new RetryQuarantined($"{sink}/{listener}/{seq}"))));
        app.MapPost("/quarantine/{sink}/{listener}/{seq}/skip", async (string sink, string listener, string seq, SkipBody body) =>
            string.IsNullOrWhiteSpace(body.Reason)
                ? Results.BadRequest("a reason is required")
                : Action(await Ask<QuarantineActionResult>(new SkipQuarantined($"{sink}/{listener}/{seq}", body.Reason))));
        app.MapPost("/replay", async (ReplayBody body) =>
        {
            if (string.IsNullOrWhiteSpace(body.Sink) || (body.FromSeq is null && body.Since is null && !body.FailedOnly))
            {
                return Results.BadRequest("sink and one of fromSeq, since or failedOnly are required");
            }

            if (body.FromSeq is not null && body.Since is not null)
            {
                return Results.Text("fromSeq and since are alternatives: give one\n", statusCode: StatusCodes.Status400BadRequest);
            }

            if (body.FromSeq < 1)
            {
                return Results.Text($"fromSeq: {body.FromSeq} is not a journal sequence number (they start at 1)\n", statusCode: StatusCodes.Status400BadRequest);
            }

            if (body.Rate is <= 0)
            {
                return Results.Text($"rate: {body.Rate} is not a positive number of messages a second\n", statusCode: StatusCodes.Status400BadRequest);
            }

            // The id names the replay's output folder: the engine makes it, never the caller.
            var request = new ReplayRequest($"r{DateTimeOffset.UtcNow:yyyyMMddHHmmss}-{Guid.NewGuid().ToString("N")[..8]}",
                body.FromSeq, body.Since, body.Type, body.FailedOnly, body.Rate, body.DryRun);
            try
            {
                // The engine answers an unknown sink or stream with a failure, which Ask raises.
                return Results.Json(await engine.ActorRef.Ask<ReplayResults>(new ReplayCommand(body.Sink, body.Stream, request), ReplayTimeout), Json);
            }
            catch (ArgumentException e)
            {
                return Results.Text(e.Message + "\n", statusCode: StatusCodes.Status404NotFound);
            }
        });

        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            // The port is taken (another engine, another program) or the address is not this machine's: the engine
            // stops, as for a listener's port, naming the key rather than ending in an unhandled exception.
            await app.DisposeAsync();
            Exception? cause = e;
            while (cause is not null and not System.Net.Sockets.SocketException)
            {
                cause = cause.InnerException;
            }

            exit.Fail($"The admin endpoint cannot listen on {admin.Host}:{admin.Port}: "
                + $"{(cause is System.Net.Sockets.SocketException socket ? socket.SocketErrorCode.ToString() : e.GetType().Name)} (admin.port)");
            return;
        }

        _app = app;
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        // Where it listens (port 0 picks a free one), for the CLI on this machine.
        File.WriteAllText(EndpointFile(settings), address + "\n");
        LogReady(address);
    }

    /// <summary>The file in the data directory that names the running admin endpoint's address.</summary>
    public static string EndpointFile(EngineSettings settings) => Path.Combine(Path.GetFullPath(settings.DataDirectory), "admin.endpoint");

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            File.Delete(EndpointFile(settings));
            await _app.StopAsync(cancellationToken);
            await _app.DisposeAsync();
        }
    }

    private static IResult Action(QuarantineActionResult result) =>
        Results.Json(result, Json, statusCode: result.Ok ? StatusCodes.Status200OK : StatusCodes.Status409Conflict);

    private async Task<T> Ask<T>(object message)
    {
        object answer = await engine.ActorRef.Ask(message, AskTimeout);
        return answer is Status.Failure failure ? throw failure.Cause : (T)answer;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Admin endpoint ready on {Address}")]
    private partial void LogReady(string address);

    internal sealed record SkipBody(string? Reason);

    internal sealed record ReplayBody(string? Sink, string? Stream, long? FromSeq, DateTimeOffset? Since, string? Type,
        bool FailedOnly, double? Rate, bool DryRun);
}
