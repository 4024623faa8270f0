namespace StreamEngine.Pipeline.Index;

/// <summary>The index of the in-memory store (tests and listener benchmarks): nothing survives a restart.</summary>
public sealed class InMemoryMessageIndex : IMessageIndex
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, SortedDictionary<long, MessageIndexEntry>> _streams = [];
    private readonly Dictionary<string, long> _highWaterMarks = [];

    /// <inheritdoc />
    public Task InitializeAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    /// <inheritdoc />
    public Task<long> LoadAsync(string stream, DateTimeOffset since, IKeySink? keys, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (keys is not null)
            {
                List<MessageIndexEntry> window = Entries(stream).Values.Where(e => e.ReceivedAt >= since && e.KeyHash != 0).ToList();
                keys.Expect(window.Count);
                foreach (MessageIndexEntry e in window)
                {
                    keys.Add(e.KeyHash, e.ContentHash, e.SequenceNr, e.ReceivedAt);
                }
            }

            return Task.FromResult(_highWaterMarks.GetValueOrDefault(stream));
        }
    }

    /// <inheritdoc />
    public Task AddAsync(string stream, IReadOnlyList<MessageIndexEntry> entries, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            SortedDictionary<long, MessageIndexEntry> target = Entries(stream);
            foreach (MessageIndexEntry entry in entries)
            {
                target.TryAdd(entry.SequenceNr, entry);
                _highWaterMarks[stream] = Math.Max(_highWaterMarks.GetValueOrDefault(stream), entry.SequenceNr);
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<int> PruneAsync(string stream, DateTimeOffset olderThan, int keep, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            SortedDictionary<long, MessageIndexEntry> target = Entries(stream);
            // Everything up to the newest key past the kept ones (rejected frames hold no key: not counted), and anything old.
            long? cut = target.Values.Where(e => e.KeyHash != 0).SkipLast(keep).Select(e => (long?)e.SequenceNr).LastOrDefault();
            var doomed = target.Values.Where(e => e.ReceivedAt < olderThan || e.SequenceNr <= cut).Select(e => e.SequenceNr).ToList();
            doomed.ForEach(seq => target.Remove(seq));
            return Task.FromResult(doomed.Count);
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<MessageIndexEntry>> FindAsync(MessageQuery query, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            IReadOnlyList<MessageIndexEntry> found = [.. _streams
                .Where(s => query.Stream is null || s.Key == query.Stream)
                .OrderBy(s => s.Key, StringComparer.Ordinal)
                .SelectMany(s => s.Value.Values)
                .Where(e => (query.ControlId is null || e.ControlId == query.ControlId)
                    && (query.PatientKeyHash is null || e.PatientKeyHash == query.PatientKeyHash || e.PriorPatientKeyHash == query.PatientKeyHash)
                    && (query.Since is null || e.ReceivedAt >= query.Since))
                .TakeLast(query.Limit)];
            return Task.FromResult(found);
        }
    }

    private SortedDictionary<long, MessageIndexEntry> Entries(string stream)
    {
        if (!_streams.TryGetValue(stream, out SortedDictionary<long, MessageIndexEntry>? entries))
        {
            _streams[stream] = entries = [];
        }

        return entries;
    }
}
