using System.Runtime.InteropServices;

namespace StreamEngine.Pipeline.Ingest;

/// <summary>
/// The dedupe window in memory: for each (MSH-3, MSH-4, MSH-10) key hash the contents sent under it (a reused control
/// id keeps all of them) with their journal sequence numbers, oldest evicted first by count and age. Packed in a ring
/// of structs plus two dictionaries of value types, so a million keys are a few arrays rather than a million objects
/// the garbage collector would have to trace, and every operation is O(1) however often a sender reuses a control id.
/// Not thread-safe: the ingest journal actor owns it.
/// </summary>
internal sealed class DedupeKeys
{
    private readonly Dictionary<(long Key, long Content), int> _slotOf = [];
    private readonly Dictionary<long, int> _contentsPerKey = [];
    private Slot[] _slots = new Slot[1024];
    private int _head;   // oldest slot
    private int _used;   // slots between head and tail, dead ones included

    /// <summary>Contents remembered (pending ones included).</summary>
    public int Count => _slotOf.Count;

    /// <summary>True when some content is remembered under this key.</summary>
    public bool Knows(long keyHash) => _contentsPerKey.ContainsKey(keyHash);

    /// <summary>The sequence number a content was journaled at (0 while its write is in flight), or null.</summary>
    public long? Find(long keyHash, long contentHash) =>
        _slotOf.TryGetValue((keyHash, contentHash), out int slot) ? _slots[slot].SequenceNr : null;

    /// <summary>
    /// Makes room for this many more contents at once (before loading the window at a start): the ring doubling from
    /// 1,024 renumbered every live slot at each step, and both dictionaries rehashed as they grew.
    /// </summary>
    public void EnsureCapacity(int contents)
    {
        if (contents > _slots.Length - _used)
        {
            // Headroom for the writes in flight once it is full: eviction runs after them, and a full ring doubles.
            Resize((int)Math.Min(Array.MaxLength, _used + contents + Math.Max(1024L, contents / 16)));
        }

        _slotOf.EnsureCapacity(_slotOf.Count + contents);
        _contentsPerKey.EnsureCapacity(_contentsPerKey.Count + contents);
    }

    /// <summary>Remembers a content whose write is starting.</summary>
    public void AddPending(long keyHash, long contentHash, DateTimeOffset receivedAt) => Add(keyHash, contentHash, 0, receivedAt);

    /// <summary>Remembers a committed content (loading the window), unless it is known already.</summary>
    public void Remember(long keyHash, long contentHash, long sequenceNr, DateTimeOffset receivedAt)
    {
        // One lookup, not a test and then an insert: a start loads a million of these. The ring has room before the
        // reference into the dictionary is taken, so nothing renumbers the dictionary while it is held.
        EnsureRoom();
        ref int slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_slotOf, (keyHash, contentHash), out bool known);
        if (!known)
        {
            slot = Place(keyHash, contentHash, sequenceNr, receivedAt);
        }
    }

    /// <summary>A pending content was committed at this sequence number.</summary>
    public void Commit(long keyHash, long contentHash, long sequenceNr)
    {
        if (_slotOf.TryGetValue((keyHash, contentHash), out int slot))
        {
            _slots[slot].SequenceNr = sequenceNr;
        }
    }

    /// <summary>Forgets one content of a key (its write was rejected); the key's other contents stay.</summary>
    public void Remove(long keyHash, long contentHash)
    {
        if (_slotOf.TryGetValue((keyHash, contentHash), out int slot))
        {
            Kill(slot);
        }
    }

    /// <summary>Evicts the oldest contents while more than <paramref name="maxKeys"/> are kept or they are older than the cutoff.</summary>
    public void Evict(int maxKeys, DateTimeOffset cutoff)
    {
        long cutoffTicks = cutoff.UtcTicks;
        while (_used > 0)
        {
            Slot oldest = _slots[_head];
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

                Kill(_head);
            }

            _head = (_head + 1) % _slots.Length;
            _used--;
        }
    }

    private void Add(long keyHash, long contentHash, long sequenceNr, DateTimeOffset receivedAt)
    {
        EnsureRoom();
        _slotOf[(keyHash, contentHash)] = Place(keyHash, contentHash, sequenceNr, receivedAt);
    }

    private void EnsureRoom()
    {
        if (_used == _slots.Length)
        {
            Grow();
        }
    }

    // Takes the ring's next slot (there is room) for a content and counts it under its key; the caller maps the
    // content to the slot.
    private int Place(long keyHash, long contentHash, long sequenceNr, DateTimeOffset receivedAt)
    {
        int slot = (_head + _used) % _slots.Length;
        _used++;
        _slots[slot] = new Slot { KeyHash = keyHash, ContentHash = contentHash, SequenceNr = sequenceNr, ReceivedTicks = receivedAt.UtcTicks, Live = true };
        CollectionsMarshal.GetValueRefOrAddDefault(_contentsPerKey, keyHash, out _)++;
        return slot;
    }

    // Forgets a slot's content; the ring slot itself is reclaimed when eviction reaches it.
    private void Kill(int slot)
    {
        ref Slot dead = ref _slots[slot];
        _slotOf.Remove((dead.KeyHash, dead.ContentHash));
        int left = _contentsPerKey[dead.KeyHash] - 1;
        if (left == 0)
        {
            _contentsPerKey.Remove(dead.KeyHash);
        }
        else
        {
            _contentsPerKey[dead.KeyHash] = left;
        }

        dead.Live = false;
    }

    private void Grow() => Resize(_slots.Length * 2);

    // Lays the slots out oldest first from 0 in a ring of the new capacity, and renumbers the references to them.
    private void Resize(int newCapacity)
    {
        int capacity = _slots.Length;
        var grown = new Slot[newCapacity];
        for (int i = 0; i < _used; i++)
        {
            Slot slot = _slots[(_head + i) % capacity];
            grown[i] = slot;
            if (slot.Live)
            {
                _slotOf[(slot.KeyHash, slot.ContentHash)] = i;
            }
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
        public bool Live;
    }
}
