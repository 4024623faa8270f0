using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using Akka;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using Akka.Util;
using Akka.Streams;
using Akka.Streams.Dsl;
using StreamEngine.Diagnostics;
using StreamEngine.Hl7v2;
using StreamEngine.Mllp;
using StreamEngine.Mllp.Tls;

using StreamEngine.Pipeline.Ingest;

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
/// A listener could not bind its address: the port is taken, the host does not resolve or is not this machine's.
/// </summary>
public sealed class ListenerBindException(string listenerId, EndPoint endpoint, string error, string key, Exception inner)
    : Exception($"Listener {listenerId} cannot listen on {Describe(endpoint)}: {error}", inner)
{
    /// <summary>A socket's failure to bind: the host's fault for an address this machine does not have, else the port's.</summary>
    public ListenerBindException(string listenerId, EndPoint endpoint, SocketError error, Exception inner)
        : this(listenerId, endpoint, error.ToString(), error is SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported ? "host" : "port", inner)
    {
    }

    /// <summary>The listener's id.</summary>
    public string ListenerId { get; } = listenerId;

    /// <summary>The listener's setting at fault: <c>host</c> or <c>port</c>.</summary>
    public string Key { get; } = key;

    private static string Describe(EndPoint endpoint) => endpoint is DnsEndPoint dns ? $"{dns.Host}:{dns.Port}" : endpoint.ToString()!;
}

/// <summary>
/// One inbound MLLP channel. It accepts sockets itself (Akka.Streams TCP cannot bind 0.0.0.0 or ::, and has no TLS
/// stage), wraps each in an SslStream when TLS is on (TLS 1.2/1.3, optional client certificates), and bridges the
/// stream, with asynchronous reads and writes, into the Akka.Streams framing flow. Every accepted connection gets
/// its own <see cref="ConnectionActor"/>; the flow asks for one ACK at a time (stop-and-wait) and reads the socket
/// only on demand, so a journal that falls behind stops socket reads instead of queueing frames. Limits
/// (connections, senders, idle and frame timeouts, frame size) are checked per connection.
/// </summary>
public sealed class MllpListener : ReceiveActor, IWithUnboundedStash
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ListenerSettings _settings;
    private readonly IActorRef _journal;
    private readonly Hl7AckBuilder _acks;
    private readonly PatientKeyHasher _hasher;
    private readonly IMaterializer _materializer;
    private readonly KeyValuePair<string, object?> _listenerTag;
    private readonly CancellationTokenSource _stopping = new();
    private ReloadingCertificate? _certificate;
    private ClientCertificatePolicy? _clientPolicy;
    private Func<Task>? _unbind;
    private EndPoint? _endpoint;
    private long _connections;
    private int _live;
    private readonly CodedLog _rejections = new();

    /// <summary>Creates a listener.</summary>
    public MllpListener(ListenerSettings settings, IActorRef journal, Hl7AckBuilder acks, PatientKeyHasher hasher)
    {
        _settings = settings;
        _hasher = hasher;
        _journal = journal;
        _acks = acks;
        _materializer = Context.Materializer();
        _listenerTag = new("listener", settings.Id);

        Receive<GetListenerBinding>(_ => Stash.Stash());
        Connections();
    }

    /// <inheritdoc />
    public IStash Stash { get; set; } = null!;

    /// <summary>Props for a listener.</summary>
    public static Props Props(ListenerSettings settings, IActorRef journal, Hl7AckBuilder acks, PatientKeyHasher hasher) =>
        Akka.Actor.Props.Create(() => new MllpListener(settings, journal, acks, hasher));

    /// <inheritdoc />
    protected override void PreStart()
    {
        if (_settings.Tls is { } tls)
        {
            _certificate = new ReloadingCertificate(tls.CertificateFile, tls.KeyFile, tls.PasswordFile);
            _certificate.ReloadFailed += reason => _log.Warning("Listener {0}: changed certificate could not be read ({1}); keeping the previous one", _settings.Id, reason);
            _clientPolicy = tls.MutualTls ? new ClientCertificatePolicy(tls.ClientCertificates, tls.ClientCaFile) : null;
        }

        IPEndPoint endpoint = Resolve(_settings.Id, _settings.Host, _settings.Port);
        Socket? listener = null;
        try
        {
            listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp); // IPv6 may be off on this host
            if (endpoint.Address.Equals(IPAddress.IPv6Any))
            {
                listener.DualMode = true; // "::" takes IPv4 senders too
            }

            listener.Bind(endpoint);
            listener.Listen(128);
        }
        catch (SocketException e)
        {
            listener?.Dispose();
            throw new ListenerBindException(_settings.Id, endpoint, e.SocketErrorCode, e); // the engine stops: see EngineActor
        }

        _unbind = () =>
        {
            listener.Dispose();
            return Task.CompletedTask;
        };

        IActorRef self = Self;
        CancellationToken stopping = _stopping.Token;
        _ = Task.Run(() => AcceptLoopAsync(listener, self, stopping), stopping);
        OnBound(listener.LocalEndPoint!, _unbind);
    }

    // Accepts until the listener stops. A failed accept (out of file handles, say) is reported and retried after a
    // pause: the listener never stops accepting for good while it runs.
    private static async Task AcceptLoopAsync(Socket listener, IActorRef self, CancellationToken stopping)
    {
        int failures = 0;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                Socket socket = await listener.AcceptAsync(stopping);
                failures = 0;
                self.Tell(new Accepted(socket));
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                self.Tell(new AcceptFailed(e.SocketErrorCode.ToString()));
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 50 << Math.Min(++failures, 6))), stopping);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    // A name that does not resolve is a bind failure like a taken port: the engine stops naming the host's key.
    private static IPEndPoint Resolve(string listenerId, string host, int port)
    {
        if (IPAddress.TryParse(host, out IPAddress? address))
        {
            return new IPEndPoint(address, port);
        }

        try
        {
            IPAddress[] addresses = System.Net.Dns.GetHostAddresses(host);
            IPAddress chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
                ?? throw new SocketException((int)SocketError.NoData);
            return new IPEndPoint(chosen, port);
        }
        catch (Exception e) when (e is SocketException or ArgumentException) // no such name, no answer, a name too long
        {
            throw new ListenerBindException(listenerId, new DnsEndPoint(host, port), e is SocketException socket ? socket.SocketErrorCode.ToString() : e.GetType().Name,
                "host", e);
        }
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        if (_rejections.TakeSummary(force: true) is { } summary)
        {
            ConnectionActor.LogRejectionSummary(_log, _settings.Id, summary);
        }

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
        Receive<Accepted>(Accept);
        Receive<AcceptFailed>(f => _log.Warning("Listener {0}: accepting a connection failed ({1}); retrying", _settings.Id, f.Reason));
        Receive<TlsReady>(ready => Serve(ready.Stream));
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

    private void Accept(Accepted accepted)
    {
        Socket socket = accepted.Socket;
        EndPoint remote = socket.RemoteEndPoint ?? new IPEndPoint(IPAddress.None, 0);
        if (Refusal(remote) is { } refusal)
        {
            // Close at once. The sender sees the connection end and retries later.
            Refuse(remote, refusal);
            socket.Dispose();
            return;
        }

        _live++;
        socket.NoDelay = true;
        if (_settings.Tls is null)
        {
            Serve(new NetworkStream(socket, ownsSocket: true));
            return;
        }

        string address = AddressOf(remote);
        ClientCertificatePolicy? policy = _clientPolicy;
        string? rejection = null;
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = _certificate!.Context,
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

    // Bridges a connection's stream (plain or TLS) into the framing flow with asynchronous reads (one read per
    // demand, so no read ahead of the journal) and writes (one write per ACK, flushed). The stream is closed once
    // the whole graph has finished, after the last ACK is written.
    // The read source runs fused with the rest of the connection's graph, in one actor: Akka gives an async unfold
    // source the blocking-I/O dispatcher, which put it in an actor of its own, so each frame crossed an extra
    // asynchronous boundary (a message each way, and a read-ahead buffer of 16 reads). Its reads never block.
    private void Serve(Stream stream)
    {
        var buffer = new byte[16 * 1024];
        Source<ByteString, NotUsed> input = Source.UnfoldResourceAsync<ByteString, Stream>(
            () => Task.FromResult(stream),
            async s =>
            {
                int read = await s.ReadAsync(buffer);
                return read == 0 ? Option<ByteString>.None : Option<ByteString>.Create(ByteString.CopyFrom(buffer, 0, read));
            },
            _ => Task.FromResult(Done.Instance))
            .WithAttributes(Attributes.CreateName("mllpRead")); // replaces the blocking-I/O dispatcher attribute
        TimeSpan writeLimit = _settings.FrameTimeout ?? TimeSpan.FromSeconds(60);
        // Answers are written by whoever gives them (the journal's persist callback, for an ACK), one frame at a time:
        // the graph reads the next frame only once the answer to this one is written. The graph's own output takes
        // what comes back through the promise instead (nothing, for a frame answered here).
        // A peer gone before it read its answer (a reset), or not reading it within the limit, ends the connection: why
        // is kept here for the close's log line, and the frame's answer ends the stream quietly (an error is no news).
        var ended = new StrongBox<Exception?>();
        Func<ByteString, Task> write = ack => WriteAnswerAsync(stream, ack, writeLimit, ended);
        Sink<ByteString, Task<Done>> output = Sink.ForEachAsync<ByteString>(1, write);
        input.Via(ConnectionFlow(write, writeLimit, ended)).RunWith(output, _materializer)
            .ContinueWith(_ => stream.Dispose(), TaskScheduler.Default);
    }

    // A peer that never reads its answers must not hold the connection forever once its buffers are full. Never blocks
    // the calling thread (the journal's, for an ACK): the socket write is asynchronous.
    private static async Task WriteAnswerAsync(Stream stream, ByteString answer, TimeSpan limit, StrongBox<Exception?> ended)
    {
        using var cancel = new CancellationTokenSource(limit);
        try
        {
            await stream.WriteAsync(answer.ToArray(), cancel.Token).ConfigureAwait(false);
            await stream.FlushAsync(cancel.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (ConnectionActor.IsPeerGone(e))
        {
            ended.Value ??= e;
            throw;
        }
    }

    // The per-connection flow, the same for plain and TLS connections: framing with its limits, one frame at a time
    // answered through the connection's actor, and a report to this listener when the connection ends.
    private Flow<ByteString, ByteString, NotUsed> ConnectionFlow(Func<ByteString, Task> write, TimeSpan writeLimit, StrongBox<Exception?> ended)
    {
        long number = ++_connections;
        IActorRef connection = Context.ActorOf(ConnectionActor.Props(_settings, _journal, _acks, _hasher, _rejections), $"connection-{number}");
        IActorRef self = Self;
        // The actor answers by CommitTimeout, and the answer's write gives up after writeLimit.
        TimeSpan answerLimit = _settings.CommitTimeout + writeLimit + TimeSpan.FromSeconds(10);
        _log.Debug("Listener {0}: connection {1} opened", _settings.Id, number);
        return Flow.Create<ByteString>()
            .Via(MllpFramingStage.Create(_settings.MaxFrameBytes, _settings.FrameTimeout, _settings.Id, _settings.IdleTimeout))
            .SelectAsync(1, frame =>
            {
                // Every frame is answered (by the commit timeout at the latest): a usable one by the ingest journal's
                // persist callback, others by the connection actor. Whichever answers writes the answer to the socket
                // itself (no thread-pool hand-off before the ACK goes out), and this promise completes, empty, once the
                // write is done: only then is the next frame read.
                var reply = new TaskCompletionSource<ByteString>();
                connection.Tell(new InboundFrame(frame, reply) { WriteAnswer = write });
                return reply.Task.WaitAsync(answerLimit); // a backstop: a connection actor that failed mid-frame must not hang the connection
            })
            .TakeWhile(ack => !ReferenceEquals(ack, ConnectionActor.Stopped)) // the engine stopping, or the peer gone: the connection ends, no error
            .Where(ack => !ack.IsEmpty)
            .WatchTermination((_, done) =>
            {
                done.ContinueWith(t => self.Tell(new ConnectionClosed(connection, t.Exception?.GetBaseException() ?? ended.Value)), TaskScheduler.Default);
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
            OperationCanceledException => "AnswerNotRead", // its answer not taken within the write limit
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

    // Sent as each connection ends, also as the engine stops (after this listener): not logged as a dead letter then.
    private sealed record ConnectionClosed(IActorRef Connection, Exception? Cause) : IDeadLetterSuppression;

    private sealed record Accepted(Socket Socket);

    private sealed record AcceptFailed(string Reason);

    private sealed record TlsReady(SslStream Stream);

    private sealed record TlsRefused(string Address, string Reason);
}
