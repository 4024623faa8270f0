using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using StreamEngine.Hl7v2;
using StreamEngine.Mllp;

namespace StreamEngine.LoadGen;

/// <summary>
/// The ceiling to hold the engine against: a raw-socket MLLP server on System.IO.Pipelines that answers every frame
/// with a minimal ACK (MSA-2 = the frame's MSH-10 by a loose scan) and does nothing else: no parsing, no actors.
/// Durable mode (<c>--durable FILE</c>): every frame is appended to one file shared by all connections, one fsync per
/// group of frames (whatever arrived while the previous fsync ran), and each ACK goes only after the fsync covering it.
/// </summary>
internal static class BaselineServer
{
    private static DurableLog? _log;

    public static async Task RunAsync(int port, string? durableFile, CancellationToken cancellationToken)
    {
        if (durableFile is not null)
        {
            _log = new DurableLog(durableFile);
            _ = Task.Run(() => _log.RunAsync(cancellationToken), cancellationToken);
        }

        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start(512);
        Console.WriteLine($"baseline listening on {listener.LocalEndpoint}");
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket socket = await listener.AcceptSocketAsync(cancellationToken);
            socket.NoDelay = true;
            _ = ServeAsync(socket, cancellationToken);
        }
    }

    private static async Task ServeAsync(Socket socket, CancellationToken cancellationToken)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        PipeReader reader = PipeReader.Create(stream);
        PipeWriter writer = PipeWriter.Create(stream);
        try
        {
            while (true)
            {
                ReadResult read = await reader.ReadAsync(cancellationToken);
                ReadOnlySequence<byte> buffer = read.Buffer;
                Task? durable = null;
                while (TryFrame(ref buffer, out ReadOnlySequence<byte> frame))
                {
                    byte[] bytes = frame.ToArray();
                    durable = _log?.Append(bytes) ?? durable;
                    string id = Hl7AckBuilder.LooseControlId(bytes) ?? string.Empty;
                    writer.Write(MllpFrame.Wrap(System.Text.Encoding.ASCII.GetBytes($"MSH|^~\\&|B|B|S|S|2026||ACK|{id}|P|2.5\rMSA|AA|{id}\r")));
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (durable is not null)
                {
                    await durable; // the fsync covering the last frame of this read covers all of them
                }

                await writer.FlushAsync(cancellationToken); // one write per read: ACKs of pipelined frames go together
                if (read.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
        {
        }
    }

    private static bool TryFrame(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> frame)
    {
        frame = default;
        SequencePosition? start = buffer.PositionOf(MllpDecoder.StartBlock);
        if (start is null)
        {
            return false;
        }

        ReadOnlySequence<byte> rest = buffer.Slice(buffer.GetPosition(1, start.Value));
        SequencePosition? end = rest.PositionOf(MllpDecoder.EndBlock);
        if (end is null || rest.Slice(end.Value).Length < 2)
        {
            return false;
        }

        frame = rest.Slice(0, end.Value);
        buffer = rest.Slice(rest.GetPosition(2, end.Value));
        return true;
    }

    // One writer, group commit: frames queue up while an fsync runs and all go in the next write + fsync.
    private sealed class DurableLog(string path)
    {
        private readonly System.Threading.Channels.Channel<(byte[] Frame, TaskCompletionSource Done)> _queue =
            System.Threading.Channels.Channel.CreateUnbounded<(byte[], TaskCompletionSource)>(new() { SingleReader = true });

        public Task Append(byte[] frame)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _queue.Writer.TryWrite((frame, done));
            return done.Task;
        }

        public async Task RunAsync(CancellationToken cancellationToken)
        {
            await using var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, 1 << 16);
            var group = new List<TaskCompletionSource>();
            while (await _queue.Reader.WaitToReadAsync(cancellationToken))
            {
                while (_queue.Reader.TryRead(out var item))
                {
                    file.Write(BitConverter.GetBytes(item.Frame.Length));
                    file.Write(item.Frame);
                    group.Add(item.Done);
                }

                file.Flush(flushToDisk: true);
                group.ForEach(d => d.SetResult());
                group.Clear();
            }
        }
    }
}
