using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Akka;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.IO;
using StreamEngine.Diagnostics;
using StreamEngine.Hl7v2;
using StreamEngine.Mllp;
using StreamEngine.Mllp.Tls;
using Tcp = Akka.Streams.Dsl.Tcp;

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
/// One inbound MLLP channel. Plain TCP binds with Akka.Streams TCP; TLS (which Akka.Streams has no stage for) accepts
/// sockets itself, wraps each in an SslStream (TLS 1.2/1.3, optional client certificates) and bridges the decrypted
/// stream into the same framing flow. Every accepted connection gets its own <see cref="ConnectionActor"/>; the flow
/// asks for one ACK at a time (stop-and-wait), so a journal that falls behind stops socket reads instead of
/// queueing frames. Limits (connections, senders, idle and frame timeouts, frame size) are checked per connection.
/// </summary>
public sealed class MllpListener : ReceiveActor, IWithUnboundedStash
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ListenerSettings _settings;
    private readonly IActorRef _journal;
    private readonly Hl7AckBuilder _acks;
    private readonly IMaterializer _materializer;
    private readonly KeyValuePair<string, object?> _listenerTag;
    private readonly CancellationTokenSource _stopping = new();
    private ReloadingCertificate? _certificate;
    private ClientCertificatePolicy? _clientPolicy;
    private Func<Task>? _unbind;
    private EndPoint? _endpoint;
    private long _connections;
    private int _live;

    /// <summary>Creates a listener.</summary>
    public MllpListener(ListenerSettings settings, IActorRef journal, Hl7AckBuilder acks)
    {
        _settings = settings;
        _journal = journal;
        _acks = acks;
        _materializer = Context.Materializer();
        _listenerTag = new("listener", settings.Id);

        Receive<Tcp.ServerBinding>(binding => OnBound(binding.LocalAddress, () => binding.Unbind()));
        Receive<BoundAt>(bound => OnBound(bound.Endpoint, bound.Unbind));
        Receive<Status.Failure>(f => throw new InvalidOperationException(
            $"Listener '{_settings.Id}' could not bind {_settings.Host}:{_settings.Port}: {f.Cause.Message}", f.Cause));
        Receive<GetListenerBinding>(_ => Stash.Stash());
        Connections();
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
        if (_settings.Tls is not { } tls)
        {
            Context.System.TcpStream().Bind(_settings.Host, _settings.Port, backlog: 128)
                .To(Sink.ForEach<Tcp.IncomingConnection>(c => self.Tell(c)))
                .Run(_materializer)
                .PipeTo(self);
            return;
        }

        _certificate = new ReloadingCertificate(tls.CertificateFile, tls.KeyFile, tls.PasswordFile);
        _certificate.ReloadFailed += reason => _log.Warning("Listener {0}: changed certificate could not be read ({1}); keeping the previous one", _settings.Id, reason);
        _clientPolicy = tls.MutualTls ? new ClientCertificatePolicy(tls.ClientCertificates, tls.ClientCaFile) : null;
        var listener = new TcpListener(IPAddress.Parse(_settings.Host), _settings.Port);
        listener.Start(128);
        CancellationToken stopping = _stopping.Token;
        self.Tell(new BoundAt(listener.LocalEndpoint, () =>
        {
            listener.Stop();
            return Task.CompletedTask;
        }));
        _ = Task.Run(async () =>
        {
            try
            {
                while (!stopping.IsCancellationRequested)
                {
                    self.Tell(new TlsAccepted(await listener.AcceptSocketAsync(stopping)));
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // The listener is stopping.
            }
        }, stopping);
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        _stopping.Cancel();
        _unbind?.Invoke();
        _stopping.Dispose();
    }

    private void OnBound(EndPoint endpoint, Func<Task> unbind)
    {
        _endpoint = endpoint;
        _unbind = unbind;
        _log.Info("Listener {0} accepting MLLP{1} on {2}", _settings.Id, _settings.Tls is null ? string.Empty : " over TLS", endpoint);
        Stash.UnstashAll();
        Become(Bound);
    }

    private void Bound()
    {
        Receive<GetListenerBinding>(_ => Sender.Tell(new ListenerBound(_settings.Id, _endpoint!)));
        Connections();
    }

    private void Connections()
    {
        Receive<Tcp.IncomingConnection>(AcceptPlain);
        Receive<TlsAccepted>(AcceptTls);
        Receive<TlsReady>(Serve);
        Receive<TlsRefused>(refused =>
        {
            _live--;
            StreamEngineTelemetry.ConnectionsRefused.Add(1, _listenerTag, new("reason", refused.Reason));
            _log.Warning("Listener {0}: TLS connection from {1} refused ({2})", _settings.Id, refused.Address, refused.Reason);
        });
        Receive<ConnectionClosed>(OnClosed);
    }

    private string? Refusal(EndPoint remote) =>
        _live >= _settings.MaxConnections ? "MaxConnections" : !IsAllowed(remote) ? "NotAllowed" : null;

    private void AcceptPlain(Tcp.IncomingConnection incoming)
    {
        if (Refusal(incoming.RemoteAddress) is { } refusal)
        {
            // Close at once: complete our side, cancel theirs. The sender sees the connection end and retries later.
            Refuse(incoming.RemoteAddress, refusal);
            incoming.HandleWith(Flow.FromSinkAndSource(Sink.Cancelled<ByteString>(), Source.Empty<ByteString>()), _materializer);
            return;
        }

        _live++;
        incoming.HandleWith(ConnectionFlow(), _materializer);
    }

    private void AcceptTls(TlsAccepted accepted)
    {
        Socket socket = accepted.Socket;
        EndPoint remote = socket.RemoteEndPoint ?? new IPEndPoint(IPAddress.None, 0);
        if (Refusal(remote) is { } refusal)
        {
            Refuse(remote, refusal);
            socket.Dispose();
            return;
        }

        _live++;
        string address = AddressOf(remote);
        ClientCertificatePolicy? policy = _clientPolicy;
        string? rejection = null;
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificate = _certificate!.Current,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ClientCertificateRequired = policy is not null,
            CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, _, _) => policy is null || (rejection = policy.Check(certificate)) is null,
        };

        // The handshake runs off the actor; its outcome comes back as a message. A stalled handshake is cut off by
        // the frame timeout (or 30 s).
        var handshake = new CancellationTokenSource(_settings.FrameTimeout ?? TimeSpan.FromSeconds(30));
        ssl.AuthenticateAsServerAsync(options, handshake.Token).ContinueWith(t =>
        {
            handshake.Dispose();
            if (t.IsCompletedSuccessfully)
            {
                return (object)new TlsReady(ssl);
            }

            ssl.Dispose();
            return new TlsRefused(address, rejection ?? (t.IsCanceled ? "HandshakeTimeout" : "HandshakeFailed:" + t.Exception?.GetBaseException().GetType().Name));
        }, TaskScheduler.Default).PipeTo(Self);
    }

    private void Serve(TlsReady ready)
    {
        SslStream ssl = ready.Stream;
        Source<ByteString, Task<IOResult>> input = StreamConverters.FromInputStream(() => ssl, chunkSize: 16 * 1024);
        Sink<ByteString, Task<IOResult>> output = StreamConverters.FromOutputStream(() => ssl, autoFlush: true);
        input.Via(ConnectionFlow()).To(output).Run(_materializer);
    }

    // The per-connection flow, the same for plain and TLS connections: framing with its limits, one ACK at a time
    // from the connection's actor, and a report to this listener when the connection ends.
    private Flow<ByteString, ByteString, NotUsed> ConnectionFlow()
    {
        long number = ++_connections;
        IActorRef connection = Context.ActorOf(ConnectionActor.Props(_settings, _journal, _acks), $"connection-{number}");
        IActorRef self = Self;
        TimeSpan askTimeout = _settings.CommitTimeout + TimeSpan.FromSeconds(10); // the actor answers by CommitTimeout
        _log.Debug("Listener {0}: connection {1} opened", _settings.Id, number);
        return Flow.Create<ByteString>()
            .Via(MllpFramingStage.Create(_settings.MaxFrameBytes, _settings.FrameTimeout, _settings.Id, _settings.IdleTimeout))
            .SelectAsync(1, frame => connection.Ask<ByteString>(new InboundFrame(frame), askTimeout))
            .Where(ack => !ack.IsEmpty)
            .WatchTermination((_, done) =>
            {
                done.ContinueWith(t => self.Tell(new ConnectionClosed(connection, t.Exception?.GetBaseException())), TaskScheduler.Default);
                return NotUsed.Instance;
            });
    }

    private void Refuse(EndPoint remote, string reason)
    {
        StreamEngineTelemetry.ConnectionsRefused.Add(1, _listenerTag, new("reason", reason));
        _log.Warning("Listener {0}: connection from {1} refused ({2})", _settings.Id, AddressOf(remote), reason);
    }

    private void OnClosed(ConnectionClosed closed)
    {
        _live--;
        string? reason = closed.Cause switch
        {
            MllpFrameTooLargeException => "FrameTooLarge",
            MllpFrameTimeoutException => "FrameTimeout",
            MllpIdleTimeoutException => "IdleTimeout",
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

    private sealed record BoundAt(EndPoint Endpoint, Func<Task> Unbind);

    private sealed record TlsAccepted(Socket Socket);

    private sealed record TlsReady(SslStream Stream);

    private sealed record TlsRefused(string Address, string Reason);
}
