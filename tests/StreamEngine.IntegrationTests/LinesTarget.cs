using StreamEngine.Pipeline.Delivery;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// A target with positions, as a file has: lines in order, the position is the number of lines, and
/// <see cref="Open"/> names the sequences of the lines from a position on. One control id can be held at its lane.
/// </summary>
public sealed class LinesTarget : IDeliveryTarget
{
    private readonly Lock _lock = new();
    private readonly List<(long Seq, string Id)> _lines = [];

    /// <summary>Lines already in the "file" (what a run before a crash wrote).</summary>
    public LinesTarget(params (long Seq, string Id)[] lines) => _lines.AddRange(lines);

    /// <summary>The control id whose delivery waits for <see cref="Gate"/>.</summary>
    public string HeldId { get; init; } = string.Empty;

    public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<string> Ids
    {
        get
        {
            lock (_lock)
            {
                return [.. _lines.Select(l => l.Id)];
            }
        }
    }

    public long Position
    {
        get
        {
            lock (_lock)
            {
                return _lines.Count;
            }
        }
    }

    public IReadOnlySet<long> Open(long position)
    {
        lock (_lock)
        {
            return _lines.Skip((int)position).Select(l => l.Seq).ToHashSet();
        }
    }

    public async Task<PreparedDelivery> PrepareAsync(long sequenceNr, IIngestEvent journaled, CancellationToken cancellationToken)
    {
        string id = ((MessageReceived)journaled).ControlId;
        if (id == HeldId)
        {
            await Gate.Task.WaitAsync(cancellationToken);
        }

        return new PreparedDelivery(sequenceNr, DeliveryResult.Delivered, System.Text.Encoding.ASCII.GetBytes(id));
    }

    public DeliveryResult Commit(in PreparedDelivery prepared)
    {
        lock (_lock)
        {
            _lines.Add((prepared.SequenceNr, System.Text.Encoding.ASCII.GetString(prepared.Payload.Span)));
        }

        return prepared.Result;
    }

    public DeliveryResult Classify(IIngestEvent journaled) => DeliveryResult.Delivered;

    public void Flush(bool durable)
    {
    }

    public void Dispose()
    {
    }
}
