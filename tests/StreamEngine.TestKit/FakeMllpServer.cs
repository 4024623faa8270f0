using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using StreamEngine.Hl7v2;
using StreamEngine.Mllp;

namespace StreamEngine.TestKit;

/// <summary>
/// A scriptable MLLP peer on loopback port 0: every received message is handed to the test, which decides what to
/// write back and when (or never). Each connection is served as it comes.
/// </summary>
public sealed class FakeMllpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public FakeMllpServer()
    {
        _listener.Start();
        _loop = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Messages received, with the connection they came on.</summary>
    public Channel<Received> Inbox { get; } = Channel.CreateUnbounded<Received>();

    public int Connections { get; private set; }

    public static byte[] Ack(string code, string controlId) =>
        MllpFrame.Wrap(Encoding.ASCII.GetBytes($"MSH|^~\\&|S|F|R|F|2026||ACK|A{controlId}|P|2.5\rMSA|{code}|{controlId}\r"));

    public static byte[] Message(string controlId) =>
        Encoding.ASCII.GetBytes($"MSH|^~\\&|R|F|S|F|2026||ADT^A01|{controlId}|P|2.5\rPID|1||X\r");

    public async Task<Received> NextAsync() => await Inbox.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client = await _listener.AcceptTcpClientAsync(_stop.Token);
                Connections++;
                _ = ServeAsync(client);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        var decoder = new MllpDecoder(1 << 20);
        var frames = new List<byte[]>();
        var buffer = new byte[8192];
        NetworkStream stream = client.GetStream();
        try
        {
            while (true)
            {
                int read = await stream.ReadAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    break;
                }

                frames.Clear();
                decoder.Feed(buffer.AsSpan(0, read), frames);
                foreach (byte[] frame in frames)
                {
                    Hl7Parser.TryParse(frame, out Hl7Message? message, out _);
                    await Inbox.Writer.WriteAsync(new Received(message!.ControlId, client));
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    public sealed record Received(string ControlId, TcpClient Client)
    {
        public Task ReplyAsync(byte[] bytes) => Client.GetStream().WriteAsync(bytes).AsTask();
    }
}
