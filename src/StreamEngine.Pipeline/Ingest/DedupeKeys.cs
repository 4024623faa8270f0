namespace StreamEngine.Pipeline.Ingest;

/// <summary>
/// The dedupe window in memory: for each (MSH-3, MSH-4, MSH-10) key hash the contents sent under it (a reused control
/// id keeps all of them) with their journal sequence numbers, oldest evicted first by count and age. Packed in a ring
/// of structs with one dictionary entry per key, so a million keys are a few arrays rather than a million objects the
/// garbage collector would have to trace. Not thread-safe: the ingest journal actor owns it.
/// </summary>
internal sealed class DedupeKeys
{
    private const int None = -1;
    private readonly Dictionary<long, int> _newestByKey = [];
    private Slot[] _slots = new Slot[1024];
    private int _head;   // oldest slot
    private int _used;   // slots between head and tail, dead ones included

    /// <summary>Contents remembered (pending ones included).</summary>
    public int Count { get; private set; }

    /// <summary>The sequence number a content was journaled at (0 while its write is in flight), or null.</summary>
    public long? Find(long keyHash, long contentHash)
    {
        int slot = FindSlot(keyHash, contentHash);
        return slot == None ? null : _slots[slot].SequenceNr;
    }

    /// <summary>True when some content is remembered under this key.</summary>
    public bool Knows(long keyHash) => _newestByKey.ContainsKey(keyHash);

    /// <summary>Remembers a content whose write is starting.</summary>
    public void AddPending(long keyHash, long contentHash, DateTimeOffset receivedAt) => Add(keyHash, contentHash, 0, receivedAt);

    /// <summary>Remembers a committed content (loading the window), unless it is known already.</summary>
    public void Remember(long keyHash, long contentHash, long sequenceNr, DateTimeOffset receivedAt)
    {
        if (FindSlot(keyHash, contentHash) == None)
        {
            Add(keyHash, contentHash, sequenceNr, receivedAt);
        }
    }

    /// <summary>A pending content was committed at this sequence number.</summary>
    public void Commit(long keyHash, long contentHash, long sequenceNr)
    {
        int slot = FindSlot(keyHash, contentHash);
        if (slot != None)
        {
            _slots[slot].SequenceNr = sequenceNr;
        }
    }

    /// <summary>Forgets one content of a key (its write was rejected); the key's other contents stay.</summary>
    public void Remove(long keyHash, long contentHash)
    {
        int slot = FindSlot(keyHash, contentHash);
        if (slot != None)
        {
            Unlink(slot);
        }
    }

    /// <summary>Evicts the oldest contents while more than <paramref name="maxKeys"/> are kept or they are older than the cutoff.</summary>
    public void Evict(int maxKeys, DateTimeOffset cutoff)
    {
        long cutoffTicks = cutoff.UtcTicks;
        while (_used > 0)
        {
            ref Slot oldest = ref _slots[_head];
            if (oldest.Live)
            {
                if (Count <= maxKeys && oldest.ReceivedTicks >= cutoffTicks)
                {
                    return;
                }

                if (oldest.SequenceNr == 0)
                {
                    return; // still being written: it is the newest thing there is, not something to forget
                }

                Unlink(_head);
            }

            _head = (_head + 1) % _slots.Length;
            _used--;
        }
    }

    private void Add(long keyHash, long contentHash, long sequenceNr, DateTimeOffset receivedAt)
    {
        if (_used == _slots.Length)
        {
            Grow();
        }

        int slot = (_head + _used) % _slots.Length;
        _used++;
        _slots[slot] = new Slot
        {
            KeyHash = keyHash,
            ContentHash = contentHash,
            SequenceNr = sequenceNr,
            ReceivedTicks = receivedAt.UtcTicks,
            Next = _newestByKey.TryGetValue(keyHash, out int newest) ? newest : None,
            Live = true,
        };
        _newestByKey[keyHash] = slot;
        Count++;
    }

    private int FindSlot(long keyHash, long contentHash)
    {
        if (!_newestByKey.TryGetValue(keyHash, out int slot))
        {
            return None;
        }

        while (slot != None && _slots[slot].ContentHash != contentHash)
        {
            slot = _slots[slot].Next;
        }

        return slot;
    }

    // Takes a slot out of its key's chain (newest first) and marks it dead; the ring slot is reclaimed at eviction.
    private void Unlink(int slot)
    {
        ref Slot dead = ref _slots[slot];
        int newest = _newestByKey[dead.KeyHash];
        if (newest == slot)
        {
            if (dead.Next == None)
            {
                _newestByKey.Remove(dead.KeyHash);
            }
            else
            {
                _newestByKey[dead.KeyHash] = dead.Next;
            }
        }
        else
        {
            int previous = newest;
            while (_slots[previous].Next != slot)
            {
                previous = _slots[previous].Next;
            }

            _slots[previous].Next = dead.Next;
        }

        dead.Live = false;
        dead.Next = None;
        Count--;
    }

    // Doubles the ring, laying the slots out oldest first from 0, and renumbers every reference to them.
    private void Grow()
    {
        int capacity = _slots.Length;
        var grown = new Slot[capacity * 2];
        int Moved(int old) => old == None ? None : (old - _head + capacity) % capacity;
        for (int i = 0; i < _used; i++)
        {
            Slot slot = _slots[(_head + i) % capacity];
            slot.Next = Moved(slot.Next);
            grown[i] = slot;
        }

        foreach (long key in _newestByKey.Keys.ToList())
        {
            _newestByKey[key] = Moved(_newestByKey[key]);
        }

        _slots = grown;
        _head = 0;
    }

    private struct Slot
    {
        public long KeyHash;
        public long ContentHash;
        public long SequenceNr;
        public long ReceivedTicks;
        public int Next;
        public bool Live;
    }
}
