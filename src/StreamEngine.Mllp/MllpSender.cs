using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using StreamEngine.Hl7v2;

namespace StreamEngine.Mllp;

/// <summary>What a sender does with an acknowledgment code.</summary>
public enum AckDisposition
{
    /// <summary>Delivered (AA, CA, and the MLLP release 2 commit byte 0x06).</summary>
    Success,

    /// <summary>Try again later, with backoff (AR, CR, 0x15, a timeout or a lost connection).</summary>
    Retry,

    /// <summary>A content error: do not resend unchanged (AE, CE). The caller quarantines the message.</summary>
    Reject,
}

/// <summary>Settings of an MLLP sender. Immutable.</summary>
public sealed record MllpSenderOptions
{
    /// <summary>Server address.</summary>
    public required string Host { get; init; }

    /// <summary>Server port.</summary>
    public required int Port { get; init; }

    /// <summary>How long to wait for each ACK. Default 30 s, as most receivers' timeouts.</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Attempts after the first for a message answered "retry". Default 5.</summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>Messages in flight on the connection. Default 1: stop-and-wait, what receivers expect.</summary>
    public int Window { get; init; } = 1;

    /// <summary>First pause before a retry or reconnect; doubled each time up to <see cref="MaxBackoff"/>, with jitter.</summary>
    public TimeSpan MinBackoff { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest pause between retries.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Overrides of the default disposition per acknowledgment code (e.g. treat AE as retry for one peer).</summary>
    public IReadOnlyDictionary<string, AckDisposition> DispositionOverrides { get; init; } = new Dictionary<string, AckDisposition>();

    /// <summary>TLS: the server name to validate, or null for plain TCP.</summary>
    public string? TlsServerName { get; init; }

    /// <summary>TLS client certificate (mutual TLS), or null.</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>Validates the server certificate; null means the platform's default validation.</summary>
    public RemoteCertificateValidationCallback? ServerCertificateValidation { get; init; }

    /// <summary>Largest frame accepted from the server.</summary>
    public int MaxFrameBytes { get; init; } = 16 * 1024 * 1024;
}

/// <summary>The outcome of sending one message.</summary>
/// <param name="ControlId">MSH-10 of the message.</param>
/// <param name="Disposition">Success, Reject, or Retry when the retries ran out.</param>
/// <param name="Code">The last acknowledgment code (AA, AR, ...), "timeout" or "connection".</param>
/// <param name="Attempts">How many times it was sent.</param>
/// <param name="Latency">From the last send to its acknowledgment.</param>
/// <param name="AckControlId">MSA-2 of the acknowledgment that settled it (null when none did).</param>
public sealed record SendResult(string ControlId, AckDisposition Disposition, string Code, int Attempts, TimeSpan Latency, string? AckControlId = null)
{
    /// <summary>Whether any try put the message on a socket: false when none could connect (it never left).</summary>
    public bool Written { get; init; } = true;

    /// <summary>
    /// Whether the retries ran out with every try written to a connection that the receiver then closed (or reset)
    /// without answering: a receiver that drops the connection on this message, not one that is down (a refused connect
    /// is not a drop) nor one that is slow (a timeout is not).
    /// </summary>
    public bool Dropped { get; init; }
}

/// <summary>
/// A resilient MLLP client over one connection: keeps it open, reconnects with capped exponential backoff and
/// jitter, and matches each acknowledgment to its message by MSA-2 = MSH-10, so an ACK that arrives late (after its
/// timeout) or belongs to no message in flight is discarded and never credited to the next message. AA/CA succeed,
/// AR/CR are retried with backoff, AE/CE are rejected (no resend); each is overridable. Up to
/// <see cref="MllpSenderOptions.Window"/> messages are in flight (1: stop-and-wait). Thread-safe.
/// </summary>
public sealed class MllpSender : IAsyncDisposable
{
    private readonly MllpSenderOptions _options;
    private readonly SemaphoreSlim _window;
    private readonly SemaphoreSlim _writeTurn = new(1, 1); // whose frame goes out next: the sends in call order
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Pending> _pending = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _disposed = new();
    private Connection? _connection;
    private int _failedConnects;
    private long _discardedAcks;

    /// <summary>Creates a sender; it connects on first use.</summary>
    public MllpSender(MllpSenderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Window, 1);
        _options = options;
        _window = new SemaphoreSlim(options.Window, options.Window);
    }

    /// <summary>Acknowledgments discarded: late, duplicated, or naming no message in flight.</summary>
    public long DiscardedAcks => Interlocked.Read(ref _discardedAcks);

    /// <summary>Why the last connect or TLS handshake failed (exception type and message); null once one succeeds.</summary>
    public string? LastConnectFailure { get; private set; }

    /// <summary>Connects (or TLS handshakes) that failed since the last one that succeeded.</summary>
    public int FailedConnectsInARow => Volatile.Read(ref _failedConnects);

    /// <summary>The disposition of an acknowledgment code, with this sender's overrides.</summary>
    public AckDisposition DispositionOf(string code) =>
        _options.DispositionOverrides.TryGetValue(code, out AckDisposition d) ? d : code switch
        {
            "AA" or "CA" or "ACK" => AckDisposition.Success,
            "AE" or "CE" => AckDisposition.Reject,
            _ => AckDisposition.Retry,
        };

    /// <summary>Sends one message until it is acknowledged, rejected, or its retries run out.</summary>
    public async Task<SendResult> SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        // A message without a readable MSH-10 is matched to an ACK with an empty MSA-2 (what receivers send for it).
        string controlId = (Hl7Parser.TryParse(message, out Hl7Message? parsed, out _) ? parsed?.ControlId : Hl7AckBuilder.LooseControlId(message.Span))
            ?? string.Empty;
        byte[] frame = MllpFrame.Wrap(message.Span);
        // MSH-15 NE: no acknowledgment will come; ER: one comes only for a message that was not accepted, so silence
        // until the ACK timeout means success (a CR/AR in that time is still honoured).
        string acceptType = parsed is null ? string.Empty : parsed.Msh.Field(15).Component(1).ToString().Trim().ToUpperInvariant();
        bool silenceIsSuccess = acceptType is "NE" or "ER";
        int attempt = 0;
        bool written = false;
        bool everyTryDropped = true;
        bool droppedOnANewConnection = false;
        while (true)
        {
            attempt++;
            (string code, TimeSpan latency, string? ackId, bool wrote, bool peerDropped, bool firstOnConnection) = await SendOnceAsync(controlId, frame,
                waitForAck: acceptType != "NE", dropOnTimeout: !silenceIsSuccess, cancellationToken).ConfigureAwait(false);
            written |= wrote;
            everyTryDropped &= peerDropped;
            droppedOnANewConnection |= peerDropped && firstOnConnection;
            if (code == "none" || (code == "timeout" && silenceIsSuccess))
            {
                return new SendResult(controlId, AckDisposition.Success, "none", attempt, TimeSpan.Zero);
            }

            AckDisposition disposition = code is "timeout" or "connection" ? AckDisposition.Retry : DispositionOf(code);
            if (disposition != AckDisposition.Retry || attempt > _options.MaxRetries || _disposed.IsCancellationRequested)
            {
                // A drop counts only when every try ran its course, and one of them was the first frame on its connection: a
                // connection the receiver (or a firewall) closed while it sat idle fails the next frame written to it.
                bool dropped = everyTryDropped && droppedOnANewConnection && attempt > _options.MaxRetries && !_disposed.IsCancellationRequested;
                return new SendResult(controlId, disposition, code, attempt, latency, ackId) { Written = written, Dropped = dropped };
            }

            await Task.Delay(Backoff(attempt), cancellationToken).ConfigureAwait(false);
        }
    }

    // Written: whether the frame went to a socket (false when no connection could be had for it). PeerDropped: written,
    // and the receiver then closed or reset the connection before answering it (not this sender: a timeout, an oversized
    // answer, its disposal). FirstOnConnection: the first frame written on its connection.
    private async Task<(string Code, TimeSpan Latency, string? AckControlId, bool Written, bool PeerDropped, bool FirstOnConnection)> SendOnceAsync(
        string controlId, byte[] frame, bool waitForAck, bool dropOnTimeout, CancellationToken cancellationToken)
    {
        if (_disposed.IsCancellationRequested)
        {
            return ("connection", TimeSpan.Zero, null, false, false, false);
        }

        // The turn to write is queued for before the first wait, so frames go out in the order the sends were called
        // (a window, a first connect or a reconnect would otherwise let later ones overtake): one patient's messages
        // given in order reach the receiver in order. Held until this frame is written.
        int failedConnectsBefore = Volatile.Read(ref _failedConnects);
        await _writeTurn.WaitAsync(cancellationToken).ConfigureAwait(false);
        bool turnHeld = true;
        try
        {
            await _window.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _writeTurn.Release();
            throw;
        }

        Pending? pending = null;
        Connection? connection = null;
        try
        {
            try
            {
                connection = await ConnectedAsync(failedConnectsBefore, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or IOException or AuthenticationException or TimeoutException or ObjectDisposedException)
            {
                return ("connection", TimeSpan.Zero, null, false, false, false);
            }

            pending = new Pending(connection);
            if (waitForAck)
            {
                lock (_gate)
                {
                    if (_pending.ContainsKey(controlId))
                    {
                        throw new InvalidOperationException("A message with this MSH-10 is already in flight on this connection.");
                    }

                    _pending[controlId] = pending;
                }
            }

            var clock = Stopwatch.StartNew();
            bool first;
            try
            {
                first = await connection.WriteAsync(frame, cancellationToken).ConfigureAwait(false) == 1;
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                // A reset or broken pipe is the receiver's doing; a connection already closed here (disposed) is not.
                bool byPeer = e is not ObjectDisposedException && connection.IsOpen;
                Drop(connection);
                return ("connection", clock.Elapsed, null, true, byPeer, connection.FramesWritten == 1); // perhaps in part
            }
            finally
            {
                turnHeld = false;
                _writeTurn.Release();
            }

            if (!waitForAck)
            {
                return ("none", TimeSpan.Zero, null, true, false, first);
            }

            Task<(string Code, string? AckControlId)> ack = pending.Ack.Task;
            Task done = await Task.WhenAny(ack, Task.Delay(_options.AckTimeout, cancellationToken)).ConfigureAwait(false);
            if (done == ack || ack.IsCompleted)
            {
                // An ACK that came in as the wait was cancelled still answers: the receiver has the message.
                (string code, string? ackControlId) = await ack.ConfigureAwait(false);
                return (code, clock.Elapsed, ackControlId, true, code == "connection" && connection.ClosedByPeer, first);
            }

            cancellationToken.ThrowIfCancellationRequested();

            // No ACK in time. Unless silence was the expected answer (MSH-15 ER), the connection cannot be trusted any
            // more: an ACK arriving late could otherwise answer the next message (an MLLP release 2 commit byte, or an
            // ACK with an empty MSA-2, names no message). Drop it; the messages in flight on it (window > 1) are
            // retried on a new one, which a receiver that deduplicates on MSH-10 absorbs.
            if (dropOnTimeout)
            {
                Drop(connection);
            }

            return ("timeout", clock.Elapsed, null, true, false, first);
        }
        finally
        {
            lock (_gate)
            {
                if (pending is not null && _pending.TryGetValue(controlId, out Pending? current) && ReferenceEquals(current, pending))
                {
                    _pending.Remove(controlId); // from now on, an ACK for it is late and discarded
                }
            }

            if (turnHeld)
            {
                _writeTurn.Release(); // not written (no connection, a duplicate MSH-10, cancelled)
            }

            _window.Release();
        }
    }

    // A send that waited while a connect failed fails with it rather than trying (and backing off) once more on its
    // own: with a window, each message in flight took its turn at an ever longer backoff against a receiver that was
    // gone (a minute before the sender gave up). Its caller's retry, if any, connects again.
    private async Task<Connection> ConnectedAsync(int failedConnectsBefore, CancellationToken cancellationToken)
    {
        Connection? current = _connection;
        if (current is { IsOpen: true })
        {
            return current;
        }

        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_connection is { IsOpen: true } again)
            {
                return again;
            }

            if (_failedConnects > failedConnectsBefore)
            {
                throw new IOException("The connect tried meanwhile failed: " + LastConnectFailure);
            }

            if (_failedConnects > 0)
            {
                await Task.Delay(Backoff(_failedConnects), cancellationToken).ConfigureAwait(false);
            }

            var tcp = new TcpClient { NoDelay = true };
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
            limit.CancelAfter(_options.AckTimeout); // connect and handshake together: a peer that never answers is a failure
            try
            {
                await tcp.ConnectAsync(_options.Host, _options.Port, limit.Token).ConfigureAwait(false);
                Stream stream = tcp.GetStream();
                if (_options.TlsServerName is { } serverName)
                {
                    var ssl = new SslStream(stream, leaveInnerStreamOpen: false, _options.ServerCertificateValidation);
                    await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                    {
                        TargetHost = serverName,
                        ClientCertificates = _options.ClientCertificate is null ? null : [_options.ClientCertificate],
                        EnabledSslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13,
                    }, limit.Token).ConfigureAwait(false);
                    stream = ssl;
                }

                var connection = new Connection(tcp, stream);
                _connection = connection;
                _failedConnects = 0;
                LastConnectFailure = null;
                _ = ReadLoopAsync(connection);
                return connection;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                _failedConnects++;
                tcp.Dispose();
                LastConnectFailure = "TimeoutException: connect or TLS handshake timed out";
                throw new TimeoutException("Connect or TLS handshake timed out.");
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                _failedConnects++;
                tcp.Dispose();
                LastConnectFailure = $"{e.GetType().Name}: {e.Message}";
                throw;
            }
            catch
            {
                tcp.Dispose();
                throw;
            }
        }
        finally
        {
            _connectLock.Release();
        }
    }

    private async Task ReadLoopAsync(Connection connection)
    {
        var decoder = new MllpDecoder(_options.MaxFrameBytes);
        var frames = new List<byte[]>();
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                int read = await connection.Stream.ReadAsync(buffer, _disposed.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    connection.ClosedByPeerIfOpen(); // the receiver hung up
                    break;
                }

                frames.Clear();
                decoder.Feed(buffer.AsSpan(0, read), frames);
                foreach (byte[] frame in frames)
                {
                    OnAck(frame);
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or MllpFrameTooLargeException)
        {
            // The connection is gone; messages in flight time out or fail and are retried on a new one. A reset is the
            // receiver's doing; an oversized answer, a disposal or a connection this sender closed first is not.
            if (e is IOException)
            {
                connection.ClosedByPeerIfOpen();
            }
        }
        finally
        {
            Drop(connection);
        }
    }

    private void OnAck(byte[] frame)
    {
        string? code = null;
        string? controlId = null;
        if (frame.Length == 1 && frame[0] is 0x06 or 0x15)
        {
            // MLLP release 2 commit byte: it names no message, so it answers the oldest in flight (window 1 only).
            code = frame[0] == 0x06 ? "ACK" : "NAK";
            lock (_gate)
            {
                if (_options.Window == 1 && _pending.Count == 1)
                {
                    controlId = _pending.Keys.First();
                }
            }
        }
        else if (Hl7Parser.TryParse(frame, out Hl7Message? ack, out _) && ack?.FindSegment("MSA") is { } msa)
        {
            code = msa.Field(1).ToString();
            controlId = msa.Field(2).ToString();
        }

        Pending? pending = null;
        lock (_gate)
        {
            if (code is not null && controlId is not null && _pending.Remove(controlId, out pending))
            {
                // matched
            }
        }

        if (pending is null)
        {
            Interlocked.Increment(ref _discardedAcks);
            return;
        }

        pending.Ack.TrySetResult((code!, controlId));
    }

    // Closes a failed connection; the messages in flight on it fail at once (to be retried), not at their timeout.
    private void Drop(Connection connection)
    {
        Interlocked.CompareExchange(ref _connection, null, connection);
        connection.Close();
        List<Pending> orphans = [];
        lock (_gate)
        {
            foreach (KeyValuePair<string, Pending> entry in _pending.Where(p => ReferenceEquals(p.Value.Connection, connection)).ToList())
            {
                _pending.Remove(entry.Key);
                orphans.Add(entry.Value);
            }
        }

        foreach (Pending orphan in orphans)
        {
            orphan.Ack.TrySetResult(("connection", null));
        }
    }

    private TimeSpan Backoff(int attempt)
    {
        double capped = Math.Min(_options.MaxBackoff.TotalMilliseconds, _options.MinBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 30)));
        return TimeSpan.FromMilliseconds(capped * (0.5 + (Random.Shared.NextDouble() / 2))); // "equal jitter"
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        // Sends still waiting end with "connection" (not an exception); the semaphores are left to the GC, since a
        // send may still be inside them.
        await _disposed.CancelAsync().ConfigureAwait(false);
        if (_connection is { } connection)
        {
            Drop(connection);
        }
    }

    private sealed class Pending(Connection connection)
    {
        public Connection Connection { get; } = connection;

        public TaskCompletionSource<(string Code, string? AckControlId)> Ack { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Connection(TcpClient tcp, Stream stream)
    {
        private readonly SemaphoreSlim _write = new(1, 1);
        private int _closed;
        private int _closedByPeer;
        private int _framesWritten;

        public Stream Stream { get; } = stream;

        public bool IsOpen => Volatile.Read(ref _closed) == 0;

        /// <summary>Whether the receiver closed or reset it while it was open here (set before the sends on it are failed).</summary>
        public bool ClosedByPeer => Volatile.Read(ref _closedByPeer) == 1;

        /// <summary>Frames written (or begun) on it.</summary>
        public int FramesWritten => Volatile.Read(ref _framesWritten);

        public void ClosedByPeerIfOpen()
        {
            if (IsOpen)
            {
                Volatile.Write(ref _closedByPeer, 1);
            }
        }

        /// <summary>Writes one frame; returns its number on this connection (1 for the first).</summary>
        public async Task<int> WriteAsync(byte[] frame, CancellationToken cancellationToken)
        {
            await _write.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                int number = Interlocked.Increment(ref _framesWritten);
                await Stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
                return number;
            }
            finally
            {
                _write.Release();
            }
        }

        public void Close()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                Stream.Dispose();
                tcp.Dispose();
            }
        }
    }
}
