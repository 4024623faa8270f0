using System.Net.Sockets;
using StreamEngine.Mllp;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// A bare stop-and-wait MLLP client over one TCP connection: send a frame, wait for the next frame back, and throw
/// when the connection fails (the crash tests need exactly that; the product's client is MllpSender). Not
/// thread-safe: one message in flight.
/// </summary>
internal sealed class MllpClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly MllpDecoder _decoder;
    private readonly List<byte[]> _frames = [];
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _nextFrame;

    private MllpClient(TcpClient tcp, int maxFrameBytes)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _decoder = new MllpDecoder(maxFrameBytes);
    }

    /// <summary>Connects to an MLLP server.</summary>
    public static async Task<MllpClient> ConnectAsync(string host, int port, CancellationToken cancellationToken, int maxFrameBytes = 16 * 1024 * 1024)
    {
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
            return new MllpClient(tcp, maxFrameBytes);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends one message as one frame and returns the payload of the next frame the server sends (its ACK).
    /// Throws <see cref="TimeoutException"/> when none arrives in time and <see cref="IOException"/> when the
    /// server closes the connection.
    /// </summary>
    public async Task<byte[]> SendAsync(ReadOnlyMemory<byte> message, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(timeout);
        try
        {
            await _stream.WriteAsync(MllpFrame.Wrap(message.Span), timer.Token).ConfigureAwait(false);
            return await ReceiveAsync(timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"No acknowledgment within {timeout.TotalSeconds:0.###} s.");
        }
    }

    /// <summary>Sends one frame and does not wait for its ACK (a sender whose ACK is lost on the way).</summary>
    public async Task SendOnlyAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken) =>
        await _stream.WriteAsync(MllpFrame.Wrap(message.Span), cancellationToken).ConfigureAwait(false);

    private async Task<byte[]> ReceiveAsync(CancellationToken cancellationToken)
    {
        while (_nextFrame >= _frames.Count)
        {
            _frames.Clear();
            _nextFrame = 0;
            int read = await _stream.ReadAsync(_buffer, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException("The server closed the connection before acknowledging.");
            }

            _decoder.Feed(_buffer.AsSpan(0, read), _frames);
        }

        return _frames[_nextFrame++];
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
