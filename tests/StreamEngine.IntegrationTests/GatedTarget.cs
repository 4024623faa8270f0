using System.Collections.Concurrent;
using StreamEngine.Pipeline.Delivery;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// A sink output for actor tests: records what it was given to write (by control id), quarantines the control ids it
/// is told are broken, and holds a message's delivery until released (so a test decides which lane finishes when).
/// </summary>
public sealed class GatedTarget : IDeliveryTarget
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _gates = new();
    private readonly Lock _lock = new();
    private readonly List<string> _written = [];

    public List<string> Written
    {
        get
        {
            lock (_lock)
            {
                return [.. _written];
            }
        }
    }

    public long Position => 0;

    /// <summary>As a FHIR server or onward MLLP: each delivery is recorded before the patient's next one goes.</summary>
    public bool RecordsEachDelivery { get; init; }

    /// <summary>Ready messages one lane may prepare in a row (the engine's file sink takes several).</summary>
    public int LaneBatch { get; init; } = 1;

    /// <summary>As the file sink: preparing is computation only, so a replay may prepare a patient's messages at once.</summary>
    public bool PreparesAhead { get; init; }

    private int _prepared;
    private int _committed;

    /// <summary>Messages prepared so far (a held one counts once released).</summary>
    public int PreparedCount => Volatile.Read(ref _prepared);

    /// <summary>The most messages ever prepared and not yet committed: above the lanes only when lanes take several at once.</summary>
    public int MostPreparedAhead { get; private set; }

    private readonly ConcurrentDictionary<string, bool> _broken = new();

    public void Break(params string[] controlIds)
    {
        foreach (string id in controlIds)
        {
            _broken[id] = true;
        }
    }

    public void Fix() => _broken.Clear();

    private readonly ConcurrentDictionary<string, int> _failing = new();
    private int _failures;

    /// <summary>The next deliveries of this control id fail as a server down past its retries or an unwritable file does
    /// (an exception, not a quarantine result), this many times.</summary>
    public void Fail(string controlId, int times = 1) => _failing[controlId] = times;

    /// <summary>How many deliveries failed so.</summary>
    public int Failures => Volatile.Read(ref _failures);

    private void FailIfTold(string controlId)
    {
        if (_failing.TryGetValue(controlId, out int left) && left > 0 && _failing.TryUpdate(controlId, left - 1, left))
        {
            Interlocked.Increment(ref _failures);
            throw new IOException("unavailable");
        }
    }

    public void Hold(string controlId) => _gates[controlId] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release(string controlId) => _gates[controlId].TrySetResult();

    public void ReleaseAll()
    {
        foreach (TaskCompletionSource gate in _gates.Values)
        {
            gate.TrySetResult();
        }
    }

    public HashSet<long> WrittenBeforeACrash { get; } = [];

    public ConcurrentBag<string> Cancelled { get; } = [];

    // What a file holds after a crash: every line written (the sink takes the ones below its watermark as counted).
    public IReadOnlySet<long> Open(long position)
    {
        lock (_lock)
        {
            return _crashed ? [.. WrittenBeforeACrash, .. _writtenSeqs] : WrittenBeforeACrash;
        }
    }

    private readonly List<long> _writtenSeqs = [];
    private bool _crashed;
    private string? _crashBefore;

    /// <summary>The sink's process "dies" as it is about to write this control id: the write throws once (the actor
    /// restarts, as an engine does after kill -9), and the output then holds every line written.</summary>
    public void CrashBefore(string controlId) => _crashBefore = controlId;

    private readonly ConcurrentDictionary<string, bool> _atGate = new();

    /// <summary>Whether the delivery of this control id reached its gate (and waits there until released).</summary>
    public bool Gated(string controlId) => _atGate.ContainsKey(controlId);

    /// <summary>Called on the writing thread (the sink's) with each control id about to be written.</summary>
    public Action<string>? BeforeWrite { get; set; }

    public async Task<PreparedDelivery> PrepareAsync(long sequenceNr, IIngestEvent journaled, CancellationToken cancellationToken)
    {
        string id = ((MessageReceived)journaled).ControlId;
        if (_gates.TryGetValue(id, out TaskCompletionSource? gate))
        {
            _atGate[id] = true;
            try
            {
                await gate.Task.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                Cancelled.Add(id);
                throw;
            }
        }

        Interlocked.Increment(ref _prepared);
        bool broken = _broken.ContainsKey(id);
        if (DeliversWhilePreparing && !broken)
        {
            FailIfTold(id);
            lock (_lock)
            {
                _written.Add(id); // as a FHIR server gets its request: delivered before the result reaches the actor
            }
        }

        return new PreparedDelivery(sequenceNr, broken ? DeliveryResult.Quarantine("Broken") : DeliveryResult.Delivered,
            System.Text.Encoding.ASCII.GetBytes(id));
    }

    /// <summary>Delivers in <see cref="PrepareAsync"/>, as the FHIR target does, rather than in <see cref="Commit"/>.</summary>
    public bool DeliversWhilePreparing { get; init; }

    public DeliveryResult Commit(in PreparedDelivery prepared)
    {
        MostPreparedAhead = Math.Max(MostPreparedAhead, Volatile.Read(ref _prepared) - _committed++);
        if (prepared.Result.Outcome == DeliveryOutcome.Delivered && !DeliversWhilePreparing)
        {
            string id = System.Text.Encoding.ASCII.GetString(prepared.Payload.Span);
            BeforeWrite?.Invoke(id);
            FailIfTold(id);
            lock (_lock)
            {
                if (id == _crashBefore)
                {
                    _crashBefore = null;
                    _crashed = true;
                    throw new IOException("the process died here");
                }

                _written.Add(id);
                _writtenSeqs.Add(prepared.SequenceNr);
            }
        }

        return prepared.Result;
    }

    public DeliveryResult Classify(IIngestEvent journaled) =>
        _broken.ContainsKey(((MessageReceived)journaled).ControlId) ? DeliveryResult.Quarantine("Broken") : DeliveryResult.Delivered;

    /// <summary>How many written lines the last durable flush (fsync) covered.</summary>
    public int Synced { get; private set; }

    /// <summary>How many durable flushes (fsyncs) there were.</summary>
    public int DurableFlushes { get; private set; }

    public void Flush(bool durable)
    {
        if (durable)
        {
            lock (_lock)
            {
                Synced = _written.Count;
                DurableFlushes++;
            }
        }
    }

    public void Dispose()
    {
    }
}
