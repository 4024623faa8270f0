using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using StreamEngine.Hl7v2;
using StreamEngine.Mllp;

namespace StreamEngine.LoadGen;

/// <summary>
/// The ceiling to hold the engine against: a raw-socket MLLP server on System.IO.Pipelines that answers every frame
/// at once with a minimal ACK (MSA-2 = the frame's MSH-10 by a loose scan) and does nothing else: no journal, no actors.
/// </summary>
internal static class BaselineServer
{
    public static async Task RunAsync(int port, CancellationToken cancellationToken)
    {
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
                while (TryFrame(ref buffer, out ReadOnlySequence<byte> frame))
                {
                    string id = Hl7AckBuilder.LooseControlId(frame.IsSingleSegment ? frame.FirstSpan : frame.ToArray()) ?? string.Empty;
                    writer.Write(MllpFrame.Wrap(System.Text.Encoding.ASCII.GetBytes($"MSH|^~\\&|B|B|S|S|2026||ACK|{id}|P|2.5\rMSA|AA|{id}\r")));
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
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
}
