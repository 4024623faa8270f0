using System.Numerics;
using System.Runtime.CompilerServices;

namespace StreamEngine.Pipeline.Ingest;

/// <summary>
/// The dedupe window in memory: for each (MSH-3, MSH-4, MSH-10) key hash the contents sent under it (a reused control
/// id keeps all of them) with their journal sequence numbers, oldest evicted first by count and age. Packed in a ring
/// of structs plus two open-addressing tables of structs (content to ring slot, key to its number of contents), so a
/// million keys are a few arrays rather than a million objects the garbage collector would have to trace, each
/// operation touches about one cache line per table, and every operation is O(1) however often a sender reuses a
/// control id (contents are placed by key and content, not by key alone).
/// Not thread-safe: the ingest journal actor owns it (or the task that loads it at a start, before handing it over).
/// </summary>
internal sealed class DedupeKeys
{
    // Linear probing, at most 3/4 full; a free entry has SlotPlusOne / Count 0. Removal shifts the run back (no
    // tombstones), so a long-lived window does not slow down with churn.
    private ContentEntry[] _contents = new ContentEntry[1024];
    private KeyEntry[] _keys = new KeyEntry[1024];
    private int _contentCount;
    private int _keyCount;

    // Per instance (tests give their own): where an entry lands, the top bits of a product that every bit of the
    // hashes and the seed reach, cannot be steered by a sender choosing control ids.
    private readonly ulong _seed;
    private int _contentShift = 64 - 10; // 64 - log2 of the table's size
    private int _keyShift = 64 - 10;

    private Slot[] _slots = new Slot[1024];
    private int _head;   // oldest slot
    private int _used;   // slots between head and tail, dead ones included

    /// <summary>An empty window.</summary>
    public DedupeKeys()
        : this((ulong)Random.Shared.NextInt64())
    {
    }

    /// <summary>An empty window whose tables are laid out by this seed.</summary>
    internal DedupeKeys(ulong seed) => _seed = seed;

    /// <summary>Contents remembered (pending ones included).</summary>
    public int Count => _contentCount;

    /// <summary>True when some content is remembered under this key.</summary>
    public bool Knows(long keyHash) => FindKey(keyHash) >= 0;

    /// <summary>The sequence number a content was journaled at (0 while its write is in flight), or null.</summary>
    public long? Find(long keyHash, long contentHash) =>
        FindContent(keyHash, contentHash) is int at and >= 0 ? _slots[_contents[at].SlotPlusOne - 1].SequenceNr : null;

    /// <summary>
    /// Makes room for this many more contents at once (before loading the window at a start): the ring doubling from
    /// 1,024 renumbered every live slot at each step, and both tables rehashed as they grew.
    /// </summary>
    public void EnsureCapacity(int contents)
    {
        if (contents > _slots.Length - _used)
        {
            // Headroom for the writes in flight once it is full: eviction runs after them, and a full ring doubles.
            Resize((int)Math.Min(Array.MaxLength, _used + contents + Math.Max(1024L, contents / 16)));
        }

        int size = TableSize(_contentCount + contents);
        if (size > _contents.Length)
        {
            RehashContents(size);
        }

        size = TableSize(_keyCount + contents);
        if (size > _keys.Length)
        {
            RehashKeys(size);
        }
    }

    /// <summary>Remembers a content whose write is starting (one not remembered: the journal looks it up first).</summary>
    public void AddPending(long keyHash, long contentHash, DateTimeOffset receivedAt)
    {
        System.Diagnostics.Debug.Assert(FindContent(keyHash, contentHash) < 0, "a content is remembered once");
        Add(keyHash, contentHash, 0, receivedAt);
    }

    /// <summary>Remembers a committed content (loading the window), unless it is known already.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a start loads a million of these before tiering could help
    public void Remember(long keyHash, long contentHash, long sequenceNr, DateTimeOffset receivedAt)
    {
        if (FindContent(keyHash, contentHash) < 0)
        {
            Add(keyHash, contentHash, sequenceNr, receivedAt);
        }
    }

    /// <summary>A pending content was committed at this sequence number.</summary>
    public void Commit(long keyHash, long contentHash, long sequenceNr)
    {
        int at = FindContent(keyHash, contentHash);
        if (at >= 0)
        {
            _slots[_contents[at].SlotPlusOne - 1].SequenceNr = sequenceNr;
        }
    }

    /// <summary>Forgets one content of a key (its write was rejected); the key's other contents stay.</summary>
    public void Remove(long keyHash, long contentHash)
    {
        int at = FindContent(keyHash, contentHash);
        if (at >= 0)
        {
            Kill(_contents[at].SlotPlusOne - 1);
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

    private static Slot NewSlot(long keyHash, long contentHash, long sequenceNr, DateTimeOffset receivedAt) =>
        new() { KeyHash = keyHash, ContentHash = contentHash, SequenceNr = sequenceNr, ReceivedTicks = receivedAt.UtcTicks, Live = true };

    // Takes the ring's next slot for a content the tables do not hold, and counts it under its key.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Add(long keyHash, long contentHash, long sequenceNr, DateTimeOffset receivedAt)
    {
        if (_used == _slots.Length)
        {
            Resize(_slots.Length * 2);
        }

        int slot = (_head + _used) % _slots.Length;
        _used++;
        _slots[slot] = NewSlot(keyHash, contentHash, sequenceNr, receivedAt);

        if ((_contentCount + 1) * 4L > _contents.Length * 3L)
        {
            RehashContents(_contents.Length * 2);
        }

        int mask = _contents.Length - 1;
        int at = ContentHome(keyHash, contentHash);
        while (_contents[at].SlotPlusOne != 0)
        {
            at = (at + 1) & mask;
        }

        _contents[at] = new ContentEntry { KeyHash = keyHash, ContentHash = contentHash, SlotPlusOne = slot + 1 };
        _contentCount++;

        if ((_keyCount + 1) * 4L > _keys.Length * 3L)
        {
            RehashKeys(_keys.Length * 2);
        }

        mask = _keys.Length - 1;
        at = KeyHome(keyHash);
        while (true)
        {
            ref KeyEntry entry = ref _keys[at];
            if (entry.Count == 0)
            {
                entry = new KeyEntry { KeyHash = keyHash, Count = 1 };
                _keyCount++;
                return;
            }

            if (entry.KeyHash == keyHash)
            {
                entry.Count++;
                return;
            }

            at = (at + 1) & mask;
        }
    }

    // Forgets a slot's content; the ring slot itself is reclaimed when eviction reaches it.
    private void Kill(int slot)
    {
        ref Slot dead = ref _slots[slot];
        int mask = _contents.Length - 1;
        int at = ContentHome(dead.KeyHash, dead.ContentHash);
        while (_contents[at].SlotPlusOne != slot + 1) // the entry of this very slot (a live slot always has one)
        {
            at = (at + 1) & mask;
        }

        RemoveContentAt(at);
        int key = FindKey(dead.KeyHash);
        if (--_keys[key].Count == 0)
        {
            RemoveKeyAt(key);
        }

        dead.Live = false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int ContentHome(long keyHash, long contentHash) =>
        (int)((((ulong)keyHash + _seed) ^ BitOperations.RotateLeft((ulong)contentHash, 32)) * 0x9E3779B97F4A7C15UL >> _contentShift);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int KeyHome(long keyHash) => (int)(((ulong)keyHash + _seed) * 0xBF58476D1CE4E5B9UL >> _keyShift);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int FindContent(long keyHash, long contentHash)
    {
        int mask = _contents.Length - 1;
        int at = ContentHome(keyHash, contentHash);
        while (true)
        {
            ref ContentEntry entry = ref _contents[at];
            if (entry.SlotPlusOne == 0)
            {
                return -1;
            }

            if (entry.KeyHash == keyHash && entry.ContentHash == contentHash)
            {
                return at;
            }

            at = (at + 1) & mask;
        }
    }

    private int FindKey(long keyHash)
    {
        int mask = _keys.Length - 1;
        int at = KeyHome(keyHash);
        while (true)
        {
            ref KeyEntry entry = ref _keys[at];
            if (entry.Count == 0)
            {
                return -1;
            }

            if (entry.KeyHash == keyHash)
            {
                return at;
            }

            at = (at + 1) & mask;
        }
    }

    // Backward-shift deletion: each later entry of the run moves into the hole if the hole lies between its home and it.
    private void RemoveAt<T>(T[] table, int hole)
        where T : struct, IEntry
    {
        int mask = table.Length - 1;
        for (int next = (hole + 1) & mask; table[next].Used; next = (next + 1) & mask)
        {
            int home = table[next].Home(this);
            if (((next - home) & mask) >= ((next - hole) & mask))
            {
                table[hole] = table[next];
                hole = next;
            }
        }

        table[hole] = default;
    }

    private void RemoveContentAt(int at)
    {
        RemoveAt(_contents, at);
        _contentCount--;
    }

    private void RemoveKeyAt(int at)
    {
        RemoveAt(_keys, at);
        _keyCount--;
    }

    // A power of two that holds the entries at most 3/4 full.
    private static int TableSize(int entries) => (int)Math.Min(1 << 30, BitOperations.RoundUpToPowerOf2((uint)Math.Max(1024L, entries * 4L / 3 + 1)));

    private void RehashContents(int size)
    {
        ContentEntry[] old = _contents;
        _contents = new ContentEntry[size];
        _contentShift = 64 - BitOperations.Log2((uint)size); // before placing: homes depend on it
        PlaceAll(old, _contents);
    }

    private void RehashKeys(int size)
    {
        KeyEntry[] old = _keys;
        _keys = new KeyEntry[size];
        _keyShift = 64 - BitOperations.Log2((uint)size);
        PlaceAll(old, _keys);
    }

    private void PlaceAll<T>(T[] from, T[] into)
        where T : struct, IEntry
    {
        int mask = into.Length - 1;
        foreach (T entry in from)
        {
            if (entry.Used)
            {
                int at = entry.Home(this);
                while (into[at].Used)
                {
                    at = (at + 1) & mask;
                }

                into[at] = entry;
            }
        }
    }

    // Lays the slots out oldest first from 0 in a ring of the new capacity, and renumbers the references to them.
    private void Resize(int newCapacity)
    {
        int capacity = _slots.Length;
        var grown = new Slot[newCapacity];
        for (int i = 0; i < _used; i++)
        {
            grown[i] = _slots[(_head + i) % capacity];
        }

        for (int i = 0; i < _contents.Length; i++)
        {
            ref ContentEntry entry = ref _contents[i];
            if (entry.SlotPlusOne != 0)
            {
                entry.SlotPlusOne = ((entry.SlotPlusOne - 1 - _head + capacity) % capacity) + 1;
            }
        }

        _slots = grown;
        _head = 0;
    }

    // What the two tables' shared code needs of an entry (calls on a struct type argument are resolved per type).
    private interface IEntry
    {
        bool Used { get; }

        int Home(DedupeKeys window);
    }

    private struct ContentEntry : IEntry
    {
        public long KeyHash;
        public long ContentHash;
        public int SlotPlusOne;

        public readonly bool Used => SlotPlusOne != 0;

        public readonly int Home(DedupeKeys window) => window.ContentHome(KeyHash, ContentHash);
    }

    private struct KeyEntry : IEntry
    {
        public long KeyHash;
        public int Count;

        public readonly bool Used => Count != 0;

        public readonly int Home(DedupeKeys window) => window.KeyHome(KeyHash);
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
