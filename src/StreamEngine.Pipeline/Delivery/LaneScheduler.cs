namespace StreamEngine.Pipeline.Delivery;

/// <summary>
/// Orders a sink's work per patient: messages are added in journal order, and one may start once no earlier message
/// sharing one of its patient keys is still waiting or running; at most <see cref="Lanes"/> run at once. Different
/// patients go in parallel, one patient's messages strictly in order, and a merge (two keys) waits for both patients
/// to drain and holds both until it is done. Messages without a patient key share one key: they keep their order.
/// A lane takes one or several ready messages at once (<see cref="TryStartLane"/>): they are of different patients, so
/// preparing them one after another on one thread keeps every patient's order and saves a hand-off per message.
/// Not thread-safe: owned by the sink actor.
/// </summary>
/// <typeparam name="T">What is carried with each message.</typeparam>
public sealed class LaneScheduler<T>
{
    private const string Unkeyed = "";
    private static readonly string[] UnkeyedOnly = [Unkeyed];

    private readonly Dictionary<string, Queue<long>> _byKey = new(StringComparer.Ordinal);
    private readonly Dictionary<long, Entry> _entries = [];
    private readonly Queue<long> _ready = new();
    private readonly Stack<Queue<long>> _spareQueues = new(); // a new patient per message is the usual case: no queue each

    /// <summary>Creates a scheduler running at most <paramref name="lanes"/> messages at once.</summary>
    public LaneScheduler(int lanes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(lanes, 1);
        Lanes = lanes;
    }

    /// <summary>How many lanes (a message, or a group of ready messages) may run at once.</summary>
    public int Lanes { get; }

    /// <summary>Lanes started and not yet ended.</summary>
    public int Running { get; private set; }

    /// <summary>Messages added and not yet finished (running ones included).</summary>
    public int Count => _entries.Count;

    /// <summary>Adds the next message in journal order with its patient keys (none: the shared unkeyed key).</summary>
    /// <remarks>The keys array is kept, not copied: the caller must not change it.</remarks>
    public void Add(long sequenceNr, string[] keys, T item)
    {
        string[] distinct = keys.Length switch
        {
            0 => UnkeyedOnly,
            1 => keys,
            _ => [.. keys.Distinct(StringComparer.Ordinal)],
        };
        var entry = new Entry(distinct, item);
        foreach (string key in distinct)
        {
            if (_byKey.TryGetValue(key, out Queue<long>? queue))
            {
                entry.WaitingOn++;
            }
            else
            {
                _byKey[key] = queue = _spareQueues.Count > 0 ? _spareQueues.Pop() : new Queue<long>();
            }

            queue.Enqueue(sequenceNr);
        }

        _entries.Add(sequenceNr, entry);
        if (entry.WaitingOn == 0)
        {
            _ready.Enqueue(sequenceNr);
        }
    }

    /// <summary>
    /// Adds the next message with no order to wait for: it may start at once, alongside any other, and holds back nothing.
    /// For a caller that keeps the order itself (a replay that prepares ahead and commits in journal order).
    /// </summary>
    public void AddUnordered(long sequenceNr, T item)
    {
        _entries.Add(sequenceNr, new Entry([], item));
        _ready.Enqueue(sequenceNr);
    }

    /// <summary>Whether a message of any of these patients is waiting or running (none: the unkeyed messages).</summary>
    public bool Holds(IReadOnlyCollection<string> keys)
    {
        if (keys.Count == 0)
        {
            return _byKey.ContainsKey(Unkeyed);
        }

        foreach (string key in keys)
        {
            if (_byKey.ContainsKey(key))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// If a lane is free, takes it with up to <paramref name="max"/> messages that may start now (all of different
    /// patients), in journal order; null when no lane is free or nothing is ready. Each message is <see cref="Release"/>d
    /// when done, and the lane <see cref="EndLane"/>d after the last.
    /// </summary>
    public List<(long SequenceNr, T Item)>? TryStartLane(int max)
    {
        if (Running >= Lanes || _ready.Count == 0)
        {
            return null;
        }

        // A fair share of what is ready, so the other free lanes get work too.
        int freeLanes = Lanes - Running;
        int take = Math.Min(Math.Max(1, max), (_ready.Count + freeLanes - 1) / freeLanes);
        var lane = new List<(long SequenceNr, T Item)>(take);
        Running++;
        while (lane.Count < take && _ready.TryDequeue(out long sequenceNr))
        {
            lane.Add((sequenceNr, _entries[sequenceNr].Item));
        }

        return lane;
    }

    /// <summary>A lane has finished its messages (each <see cref="Release"/>d).</summary>
    public void EndLane() => Running--;

    /// <summary>A started message is done: the next message of each of its patients may start (its lane stays taken).</summary>
    public void Release(long sequenceNr)
    {
        if (!_entries.Remove(sequenceNr, out Entry? entry))
        {
            throw new InvalidOperationException($"Sequence {sequenceNr} is not scheduled.");
        }

        foreach (string key in entry.Keys)
        {
            Queue<long> queue = _byKey[key];
            queue.Dequeue(); // the finished message was at the head of each of its keys' queues
            if (queue.Count == 0)
            {
                _byKey.Remove(key);
                _spareQueues.Push(queue);
                continue;
            }

            long next = queue.Peek();
            Entry waiting = _entries[next];
            if (--waiting.WaitingOn == 0)
            {
                _ready.Enqueue(next);
            }
        }
    }

    private sealed class Entry(string[] keys, T item)
    {
        public string[] Keys { get; } = keys;

        public T Item { get; } = item;

        public int WaitingOn { get; set; }
    }
}
