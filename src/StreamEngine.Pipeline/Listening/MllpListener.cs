using System.Net;
using Akka;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using Tcp = Akka.Streams.Dsl.Tcp;
using Akka.Streams;
using Akka.Streams.Dsl;
using StreamEngine.Diagnostics;
using StreamEngine.Hl7v2;
using StreamEngine.Mllp;

namespace StreamEngine.Pipeline.Listening;

/// <summary>Asks a listener where it is bound; answered with <see cref="ListenerBound"/> once it is.</summary>
public sealed record GetListenerBinding
{
    /// <summary>The message.</summary>
    public static GetListenerBinding Instance { get; } = new();
}

/// <summary>A listener's id and the endpoint it accepts connections on.</summary>
public sealed record ListenerBound(string ListenerId, EndPoint Endpoint);

/// <summary>
/// One inbound MLLP channel: binds with Akka.Streams TCP and gives every accepted connection its own
/// <see cref="ConnectionActor"/> and framing flow. The flow asks for one ACK at a time (stop-and-wait), so a
/// journal that falls behind stops socket reads instead of queueing frames.
/// </summary>
public sealed class MllpListener : ReceiveActor, IWithUnboundedStash
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ListenerSettings _settings;
    private readonly IActorRef _journal;
    private readonly Hl7AckBuilder _acks;
    private readonly IMaterializer _materializer;
    private Tcp.ServerBinding? _binding;
    private EndPoint? _endpoint;
    private long _connections;
    private int _live;
    private readonly KeyValuePair<string, object?> _listenerTag;

    /// <summary>Creates a listener.</summary>
    public MllpListener(ListenerSettings settings, IActorRef journal, Hl7AckBuilder acks)
    {
        _settings = settings;
        _journal = journal;
        _acks = acks;
        _materializer = Context.Materializer();
        _listenerTag = new("listener", settings.Id);

        Receive<Tcp.ServerBinding>(binding =>
        {
            _binding = binding;
            _endpoint = binding.LocalAddress;
            _log.Info("Listener {0} accepting MLLP on {1}", _settings.Id, binding.LocalAddress);
            Stash.UnstashAll();
            Become(Bound);
        });
        Receive<Status.Failure>(f => throw new InvalidOperationException(
            $"Listener '{_settings.Id}' could not bind {_settings.Host}:{_settings.Port}: {f.Cause.Message}", f.Cause));
        Receive<GetListenerBinding>(_ => Stash.Stash());
        Receive<Tcp.IncomingConnection>(Accept);
        Receive<ConnectionClosed>(OnClosed);
    }

    /// <inheritdoc />
    public IStash Stash { get; set; } = null!;

    /// <summary>Props for a listener.</summary>
    public static Props Props(ListenerSettings settings, IActorRef journal, Hl7AckBuilder acks) =>
        Akka.Actor.Props.Create(() => new MllpListener(settings, journal, acks));

    /// <inheritdoc />
    protected override void PreStart()
    {
        IActorRef self = Self;
        Source<Tcp.IncomingConnection, Task<Tcp.ServerBinding>> connections =
            Context.System.TcpStream().Bind(_settings.Host, _settings.Port, backlog: 128);
        Task<Tcp.ServerBinding> bound = connections
            .To(Sink.ForEach<Tcp.IncomingConnection>(c => self.Tell(c)))
            .Run(_materializer);
        bound.PipeTo(self);
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        _binding?.Unbind();
    }

    private void Bound()
    {
        Receive<GetListenerBinding>(_ => Sender.Tell(new ListenerBound(_settings.Id, _endpoint!)));
        Receive<Tcp.IncomingConnection>(Accept);
        Receive<ConnectionClosed>(OnClosed);
    }

    private void Accept(Tcp.IncomingConnection incoming)
    {
        string? refusal = _live >= _settings.MaxConnections ? "MaxConnections"
            : !IsAllowed(incoming.RemoteAddress) ? "NotAllowed"
            : null;
        if (refusal is not null)
        {
            // Close at once: complete our side, cancel theirs. The sender sees the connection end and retries later.
            StreamEngineTelemetry.ConnectionsRefused.Add(1, _listenerTag, new("reason", refusal));
            _log.Warning("Listener {0}: connection from {1} refused ({2})", _settings.Id, AddressOf(incoming.RemoteAddress), refusal);
            incoming.HandleWith(Flow.FromSinkAndSource(Sink.Cancelled<ByteString>(), Source.Empty<ByteString>()), _materializer);
            return;
        }

        _live++;
        long number = ++_connections;
        IActorRef connection = Context.ActorOf(ConnectionActor.Props(_settings, _journal, _acks), $"connection-{number}");
        IActorRef self = Self;
        TimeSpan askTimeout = _settings.CommitTimeout + TimeSpan.FromSeconds(10); // the actor answers by CommitTimeout
        Flow<ByteString, ByteString, NotUsed> inbound = Flow.Create<ByteString>();
        if (_settings.IdleTimeout is { } idle)
        {
            inbound = inbound.IdleTimeout(idle);
        }

        Flow<ByteString, ByteString, NotUsed> flow = inbound
            .Via(MllpFramingStage.Create(_settings.MaxFrameBytes, _settings.FrameTimeout))
            .SelectAsync(1, frame => connection.Ask<ByteString>(new InboundFrame(frame), askTimeout))
            .Where(ack => !ack.IsEmpty)
            .WatchTermination((_, done) =>
            {
                done.ContinueWith(t => self.Tell(new ConnectionClosed(connection, t.Exception?.GetBaseException())), TaskScheduler.Default);
                return NotUsed.Instance;
            });
        _log.Debug("Listener {0}: connection {1} opened", _settings.Id, number);
        incoming.HandleWith(flow, _materializer);
    }

    private void OnClosed(ConnectionClosed closed)
    {
        _live--;
        string? reason = closed.Cause switch
        {
            MllpFrameTooLargeException => "FrameTooLarge",
            MllpFrameTimeoutException => "FrameTimeout",
            TimeoutException => "IdleTimeout",
            _ => null,
        };
        if (reason is not null)
        {
            StreamEngineTelemetry.ConnectionsClosed.Add(1, _listenerTag, new("reason", reason));
            _log.Warning("Listener {0}: connection closed, reason {1}", _settings.Id, reason);
        }
        else if (closed.Cause is not null)
        {
            _log.Info("Listener {0}: connection ended, reason {1}", _settings.Id, closed.Cause.GetType().Name);
        }

        Context.Stop(closed.Connection);
    }

    private bool IsAllowed(EndPoint remote)
    {
        if (_settings.AllowedSenders.Count == 0)
        {
            return true;
        }

        if (remote is not IPEndPoint ip)
        {
            return false;
        }

        IPAddress address = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
        foreach (IPNetwork network in _settings.AllowedSenders)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    private static string AddressOf(EndPoint remote) => remote is IPEndPoint ip ? ip.Address.ToString() : "unknown";

    private sealed record ConnectionClosed(IActorRef Connection, Exception? Cause);
}
