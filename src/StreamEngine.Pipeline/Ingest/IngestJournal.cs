using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using StreamEngine.Diagnostics;
using StreamEngine.Pipeline.Index;

namespace StreamEngine.Pipeline.Ingest;

/// <summary>What an ingest journal needs besides its ids.</summary>
/// <param name="Index">The message index beside the journal (dedupe keys, trace).</param>
/// <param name="Dedupe">The dedupe window.</param>
/// <param name="ReadJournalPluginId">Read journal used to re-index events a snapshot skipped.</param>
/// <param name="SnapshotEvery">Indexed events between snapshots (recovery replays at most about this many).</param>
public sealed record IngestOptions(IMessageIndex Index, DedupeSettings Dedupe, string ReadJournalPluginId, int SnapshotEvery = 10_000)
{
    /// <summary>Told <see cref="JournalReady"/> once the journal has recovered and loaded its dedupe keys.</summary>
    public IActorRef? ReadyTo { get; init; }

    /// <summary>The clock the dedupe window is measured by (tests move it).</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;
}

/// <summary>A stream's journal has recovered and serves appends.</summary>
public sealed record JournalReady(string ListenerId);

/// <summary>
/// The source of truth for one stream: frames are persisted here before they are acknowledged.
/// <para>Group commit: <c>PersistAsync</c> does not stash commands while a write is in flight, so frames from all
/// connections accumulate in the journal's write batch and go in the next write, one transaction (and one fsync)
/// per group. Committed events are offered live to subscribed sinks, never waiting for them.</para>
/// <para>Dedupe: a message whose (MSH-3, MSH-4, MSH-10) and content hash match one committed in the window (or one
/// still being written) is answered with that message's sequence number and not journaled again; the same key with
/// different content is journaled as new and counted as a control-id reuse. The keys live in memory and in the
/// <see cref="IMessageIndex"/>, written after each commit off the ACK path; recovery brings the index up to date
/// from the journal events past its high-water mark, so a crash between the two never lets a resend in twice.</para>
/// </summary>
public sealed class IngestJournal : ReceivePersistentActor, IWithTimers
{
    private static readonly TimeSpan PruneInterval = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan IndexRetry = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan IndexInterval = TimeSpan.FromMilliseconds(100);
    private const int IndexBatch = 2000;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IngestOptions _options;
    private readonly List<Subscription> _subscribers = [];
    private DedupeKeys _dedupe = new(); // replaced by the window loaded at the start
    private readonly Dictionary<(long Key, long Content), List<(IActorRef ReplyTo, Append Append)>> _waiters = [];

    // Appends in flight, by event identity, so a rejected write can be answered (events are distinct objects).
    private readonly Dictionary<IIngestEvent, (IActorRef ReplyTo, long CorrelationId)> _inFlight = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<IIngestEvent, (long Key, long Content)> _pendingKeys = new(ReferenceEqualityComparer.Instance);
    private readonly KeyValuePair<string, object?> _listenerTag;
    private readonly string _listenerId;
    private List<MessageIndexEntry>? _replayed = [];
    private Task<LoadedWindow>? _keysLoading; // let go once recovery has taken it: it holds the whole window
    private List<MessageIndexEntry> _indexPending = [];
    private readonly IndexWriterThread _indexWriter = new("index-writer");
    private bool _indexing;
    private long _snapshotSeq;
    private long _indexedUpTo;
    private long _lastSnapshotIndexed;
    private long _deletedUpTo;
    private long _controlIdReuses;
    private long _resendsAnswered;

    /// <summary>Creates the journal of one listener's stream.</summary>
    public IngestJournal(string persistenceId, string listenerId, IngestOptions options)
    {
        PersistenceId = persistenceId;
        _options = options;
        _listenerTag = new("listener", listenerId);
        _listenerId = listenerId;

        // The window's keys do not depend on the journal's recovery (the events the index lacks are worked out once it is
        // done), so they are read from the index and remembered meanwhile, off the actor's thread (which does not touch
        // the window before it is handed over): at a restart with a million keys the two overlap.
        _keysLoading = Task.Run(async () =>
        {
            await options.Index.InitializeAsync().ConfigureAwait(false);
            DateTimeOffset since = options.Clock.GetUtcNow() - options.Dedupe.Window;
            var window = new WindowLoad(options.Dedupe.MaxKeys, since);
            long highWaterMark = await options.Index.LoadAsync(persistenceId, since, window).ConfigureAwait(false);
            return new LoadedWindow(highWaterMark, window.Keys);
        });
        _keysLoading.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default); // observed here too: a journal whose recovery fails never awaits it

        Recover<SnapshotOffer>(offer =>
        {
            _snapshotSeq = offer.Metadata.SequenceNr;
            _lastSnapshotIndexed = offer.Snapshot is IngestSnapshot s ? s.IndexedUpTo : 0;
        });
        Recover<IIngestEvent>(e =>
        {
            if (e is MessageReceived or FrameRejected)
            {
                _replayed!.Add(ToEntry(LastSequenceNr, e, PersistenceId));
            }
        });
        Recover<RecoveryCompleted>(_ => StartLoading());

        Command<Append>(OnAppend);
        Command<SubscribeLive>(OnSubscribe);
        Command<GrantDemand>(g =>
        {
            if (Find(Sender) is { } subscription)
            {
                subscription.Demand += g.Count;
            }
        });
        Command<Terminated>(t => _subscribers.RemoveAll(s => s.Subscriber.Equals(t.ActorRef)));
        Command<GetHighestSequenceNr>(_ => Sender.Tell(LastSequenceNr));
        Command<GetIngestCounts>(_ => Sender.Tell(new IngestCounts(LastSequenceNr, _resendsAnswered, _controlIdReuses)));
        Command<IndexWritten>(OnIndexWritten);
        Command<IndexWriteFailed>(f =>
        {
            _indexing = false;
            _indexPending.InsertRange(0, f.Batch);
            _log.Warning("Ingest journal {0}: message index write failed ({1}); retrying (dedupe still holds in memory)",
                PersistenceId, f.Cause.GetType().Name);
            Timers.StartSingleTimer("index-retry", RetryIndex.Instance, IndexRetry);
        });
        Command<RetryIndex>(_ => WriteIndex());
        Command<Prune>(_ => _options.Index.PruneAsync(PersistenceId, _options.Clock.GetUtcNow() - _options.Dedupe.Window, _options.Dedupe.MaxKeys)
            .PipeTo(Self, success: n => new Pruned(n, null), failure: e => new Pruned(0, e)));
        Command<Pruned>(p =>
        {
            if (p.Failure is not null)
            {
                _log.Warning("Ingest journal {0}: pruning the message index failed ({1})", PersistenceId, p.Failure.GetType().Name);
            }
        });
        Command<DeleteUpTo>(d =>
        {
            // The highest event stays, so the sequence carries on after a restart whatever the store does on delete.
            // Never past what the index holds either: recovery could not re-index deleted events.
            long upTo = Math.Min(Math.Min(d.SequenceNr, LastSequenceNr - 1), _indexedUpTo);
            if (upTo > _deletedUpTo)
            {
                _deletedUpTo = upTo;
                DeleteMessages(upTo);
            }
        });
        Command<DeleteMessagesSuccess>(d => _log.Info("Ingest journal {0}: retention deleted events up to {1}", PersistenceId, d.ToSequenceNr));
        Command<DeleteMessagesFailure>(f => _log.Warning("Ingest journal {0}: retention could not delete ({1})", PersistenceId, f.Cause.GetType().Name));
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f => _log.Warning("Ingest journal {0}: snapshot failed ({1})", PersistenceId, f.Cause.GetType().Name));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
    }

    /// <inheritdoc />
    public override string PersistenceId { get; }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props for the journal.</summary>
    public static Props Props(string persistenceId, string listenerId, IngestOptions options) =>
        Akka.Actor.Props.Create(() => new IngestJournal(persistenceId, listenerId, options));

    // Recovery replays only the events after the last snapshot. Before serving, load the window's keys from the index
    // and index what it is missing: the replayed events, and the ones between its high-water mark and the snapshot.
    private void StartLoading()
    {
        List<MessageIndexEntry> replayed = _replayed!;
        _replayed = null;
        long snapshotSeq = _snapshotSeq;
        long highest = LastSequenceNr;
        ActorSystem system = Context.System;
        IMaterializer materializer = Context.Materializer();
        string pid = PersistenceId;
        IngestOptions options = _options;
        Task<LoadedWindow> keysLoading = _keysLoading!;
        _keysLoading = null;

        async Task<Loaded> Load()
        {
            LoadedWindow keys = await keysLoading.ConfigureAwait(false);
            var missing = new List<MessageIndexEntry>();
            if (keys.HighWaterMark < snapshotSeq)
            {
                var query = PersistenceQuery.Get(system).ReadJournalFor<ICurrentEventsByPersistenceIdQuery>(options.ReadJournalPluginId);
                IEnumerable<EventEnvelope> skipped = await query.CurrentEventsByPersistenceId(pid, keys.HighWaterMark + 1, snapshotSeq)
                    .RunWith(Sink.Seq<EventEnvelope>(), materializer).ConfigureAwait(false);
                missing.AddRange(skipped.Where(e => e.Event is MessageReceived or FrameRejected).Select(e => ToEntry(e.SequenceNr, (IIngestEvent)e.Event, pid)));
            }

            missing.AddRange(replayed.Where(e => e.SequenceNr > keys.HighWaterMark));
            try
            {
                await options.Index.AddAsync(pid, missing).ConfigureAwait(false);
                return new Loaded(keys, missing, []);
            }
            catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException or TimeoutException)
            {
                // The keys are in memory either way; the index write is retried later instead of failing the start.
                return new Loaded(keys, missing, missing);
            }
        }

        BecomeStacked(Loading);
        Load().PipeTo(Self, success: loaded => loaded, failure: e => new LoadFailed(e));
        _log.Info("Ingest journal {0} recovered at sequence {1}; loading its dedupe keys", PersistenceId, highest);
    }

    private void Loading()
    {
        Command<Loaded>(loaded =>
        {
            _dedupe = loaded.Keys.Window;
            _dedupe.EnsureCapacity(loaded.Missing.Count);
            _indexPending.AddRange(loaded.Unwritten); // the index could not take them at load: written later

            foreach (MessageIndexEntry entry in loaded.Missing.Where(e => e.KeyHash != 0))
            {
                _dedupe.Remember(entry.KeyHash, entry.ContentHash, entry.SequenceNr, entry.ReceivedAt);
            }

            Evict();
            _indexedUpTo = loaded.Unwritten.Count > 0 || loaded.Missing.Count == 0
                ? loaded.Keys.HighWaterMark
                : Math.Max(loaded.Keys.HighWaterMark, loaded.Missing.Max(e => e.SequenceNr));
            if (loaded.Unwritten.Count > 0)
            {
                _log.Warning("Ingest journal {0}: the message index could not be written at start; retrying", PersistenceId);
                Timers.StartSingleTimer("index-retry", RetryIndex.Instance, IndexRetry);
            }
            _log.Info("Ingest journal {0} ready: {1} dedupe keys in the window, {2} events re-indexed", PersistenceId, _dedupe.Count, loaded.Missing.Count);
            Timers.StartPeriodicTimer("prune", Prune.Instance, PruneInterval);
            _options.ReadyTo?.Tell(new JournalReady(_listenerId));
            UnbecomeStacked();
            Stash.UnstashAll();
        });
        Command<LoadFailed>(f =>
        {
            // The supervisor restarts the journal with backoff; frames meanwhile get AR 207 on their commit timeout.
            _log.Error("Ingest journal {0} could not load its message index: {1}", PersistenceId, f.Cause.GetType().Name);
            throw new InvalidOperationException($"Ingest journal '{PersistenceId}' could not load its message index.", f.Cause);
        });
        CommandAny(_ => Stash.Stash());
    }

    private void OnAppend(Append append)
    {
        IActorRef replyTo = Sender;
        bool remembered = false;
        // A message is deduplicated by (MSH-3, MSH-4, MSH-10) and its content; a rejected frame by its content alone.
        (long Key, long Content)? hashes = append.Event switch
        {
            MessageReceived m => (m.KeyHash, m.ContentHash),
            FrameRejected r => (r.KeyHash, r.ContentHash),
            _ => null,
        };
        if (hashes is (long key, long content))
        {
            // A key past the window is forgotten before it is looked up, not only after the next commit: on a quiet
            // stream a resend outside the window would otherwise still be answered as a duplicate.
            Evict();
            if (_dedupe.Find(key, content) is long known)
            {
                StreamEngineTelemetry.Duplicates.Add(1, _listenerTag);
                _resendsAnswered++;
                if (known > 0)
                {
                    Answer(replyTo, append, known, duplicate: true);
                }
                else
                {
                    // The first copy is still being written: answered with its sequence number once it commits.
                    if (!_waiters.TryGetValue((key, content), out var waiting))
                    {
                        _waiters[(key, content)] = waiting = [];
                    }

                    waiting.Add((replyTo, append));
                }

                return;
            }

            if (_dedupe.Knows(key))
            {
                // Counted every time; logged for the first and then every 1,000th, so a sender that reuses one
                // control id for everything does not flood the log.
                StreamEngineTelemetry.ControlIdReuses.Add(1, _listenerTag);
                if (_controlIdReuses++ % 1000 == 0)
                {
                    _log.Warning("Ingest journal {0}: a control id was reused with different content ({1} since the engine started, as `status` counts them); journaled as new messages",
                        PersistenceId, _controlIdReuses);
                }
            }

            _dedupe.AddPending(key, content, append.Event.ReceivedAt);
            _pendingKeys[append.Event] = (key, content);
            remembered = true;
        }

        _inFlight[append.Event] = (replyTo, append.CorrelationId);
        PersistAsync(append.Event, e =>
        {
            _inFlight.Remove(e);
            _pendingKeys.Remove(e);
            long seq = LastSequenceNr;
            StreamEngineTelemetry.Journaled.Add(1, _listenerTag);
            Answer(replyTo, append, seq, duplicate: false);
            if (remembered)
            {
                Committed(seq, e); // a rejected frame too: trace finds it by the control id its MSH gave
            }

            Publish(seq, e);
        });
    }

    // A committed (or already committed) frame: its answer directly when it brought one, else a message to its sender.
    private static void Answer(IActorRef replyTo, Append append, long seq, bool duplicate)
    {
        if (append.OnCommitted is { } answer)
        {
            answer.Committed(seq, duplicate);
        }
        else
        {
            replyTo.Tell(new Journaled(append.CorrelationId, seq, duplicate));
        }
    }

    private void Committed(long seq, IIngestEvent journaled)
    {
        MessageIndexEntry entry = ToEntry(seq, journaled, PersistenceId);
        (long key, long content) = (entry.KeyHash, entry.ContentHash);
        _dedupe.Commit(key, content, seq);
        if (_waiters.Remove((key, content), out var waiters))
        {
            foreach ((IActorRef waiter, Append waiting) in waiters)
            {
                Answer(waiter, waiting, seq, duplicate: true);
            }
        }

        Evict();
        Index(entry);
    }

    private void Index(MessageIndexEntry entry)
    {
        _indexPending.Add(entry);
        ScheduleIndexWrite();
    }

    // Off the ACK path and batched: one index write per interval (or per IndexBatch entries) however busy. Entries that
    // arrive during a write wait for the interval too: written straight after it, every write of a busy stream took a few
    // dozen entries, and each commit rewrites the index pages its random keys land on.
    private void ScheduleIndexWrite()
    {
        if (_indexPending.Count >= IndexBatch)
        {
            WriteIndex(); // after the write in flight, if there is one
        }
        else if (_indexPending.Count > 0 && !_indexing && !Timers.IsTimerActive("index-flush"))
        {
            Timers.StartSingleTimer("index-flush", RetryIndex.Instance, IndexInterval);
        }
    }

    // Forgets keys past the window or beyond the key cap, oldest first.
    private void Evict() => _dedupe.Evict(_options.Dedupe.MaxKeys, _options.Clock.GetUtcNow() - _options.Dedupe.Window);

    private void WriteIndex()
    {
        if (_indexing || _indexPending.Count == 0)
        {
            return;
        }

        _indexing = true;
        List<MessageIndexEntry> batch = _indexPending;
        _indexPending = [];
        IMessageIndex index = _options.Index;
        string stream = PersistenceId;
        _indexWriter.Run(() => index.AddAsync(stream, batch))
            .PipeTo(Self, success: () => new IndexWritten(batch), failure: e => new IndexWriteFailed(batch, e));
    }

    private void OnIndexWritten(IndexWritten written)
    {
        _indexing = false;
        _indexedUpTo = Math.Max(_indexedUpTo, written.Batch[^1].SequenceNr);
        if (_indexedUpTo - _lastSnapshotIndexed >= _options.SnapshotEvery)
        {
            // Recovery starts after this snapshot and re-indexes from the journal anything between the two marks.
            _lastSnapshotIndexed = _indexedUpTo;
            SaveSnapshot(new IngestSnapshot(_indexedUpTo));
        }

        ScheduleIndexWrite();
    }

    private void OnSubscribe(SubscribeLive subscribe)
    {
        if (Find(subscribe.Subscriber) is { } existing)
        {
            existing.Demand = subscribe.Demand;
        }
        else
        {
            Context.Watch(subscribe.Subscriber);
            _subscribers.Add(new Subscription(subscribe.Subscriber) { Demand = subscribe.Demand });
        }

        subscribe.Subscriber.Tell(new LiveSubscribed(LastSequenceNr));
    }

    private void Publish(long seq, IIngestEvent e)
    {
        // Offer, never wait: a subscriber out of demand misses the event and catches up from the journal.
        LiveEvent? live = null;
        foreach (Subscription subscription in _subscribers)
        {
            if (subscription.Demand > 0)
            {
                subscription.Demand--;
                subscription.Subscriber.Tell(live ??= new LiveEvent(seq, e));
            }
        }
    }

    private Subscription? Find(IActorRef subscriber) => _subscribers.Find(s => s.Subscriber.Equals(subscriber));

    private static MessageIndexEntry ToEntry(long seq, IIngestEvent e, string stream) => e switch
    {
        MessageReceived m => new(stream, seq, m.KeyHash, m.ContentHash, m.SendingApplication, m.SendingFacility, m.ControlId, m.MessageType,
            m.MessageTime, m.PatientKeyHash, m.ReceivedAt) { PriorPatientKeyHash = m.PriorPatientKeyHash },
        FrameRejected r => MessageIndexEntry.Rejected(stream, seq, Hl7v2.Hl7AckBuilder.LooseControlId(r.Raw.Span), r.Reason, r.ReceivedAt, r.KeyHash, r.ContentHash),
        _ => throw new ArgumentException($"{e.GetType().Name} is not indexed", nameof(e)),
    };

    /// <inheritdoc />
    protected override void PostStop()
    {
        // A graceful stop writes what the index has not got yet (best effort: recovery re-indexes it anyway), so that
        // an offline trace right after a stop finds the last messages.
        if (_indexPending.Count > 0 && !_indexing)
        {
            try
            {
                _options.Index.AddAsync(PersistenceId, _indexPending).Wait(TimeSpan.FromSeconds(5));
            }
            catch (AggregateException e)
            {
                _log.Warning("Ingest journal {0}: the last index entries were not written at stop ({1}); the next start re-indexes them",
                    PersistenceId, e.InnerException?.GetType().Name);
            }
        }

        _indexWriter.Dispose();
        base.PostStop();
    }

    /// <inheritdoc />
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        // The store refused this event (e.g. serialization); the actor goes on and the connection answers AR (207).
        _log.Error("Ingest journal {0} rejected an event at sequence {1}: {2}", PersistenceId, sequenceNr, cause.GetType().Name);
        if (@event is MessageReceived m && _pendingKeys.Remove(m, out var pendingKey))
        {
            _dedupe.Remove(pendingKey.Key, pendingKey.Content); // only this content; others under the same control id stay known
            if (_waiters.Remove(pendingKey, out var waiters))
            {
                foreach ((IActorRef waiter, Append waiting) in waiters)
                {
                    waiter.Tell(new AppendFailed(waiting.CorrelationId));
                }
            }
        }

        if (@event is IIngestEvent e && _inFlight.Remove(e, out var pending))
        {
            pending.ReplyTo.Tell(new AppendFailed(pending.CorrelationId));
        }
    }

    /// <inheritdoc />
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        // The store failed: the actor stops after this and its backoff supervisor restarts it, recovering from the journal.
        // Every frame waiting on a write is answered AR (207) now rather than at its commit timeout: whether or not the
        // failed commit reached the store, the sender's resend is safe (dedupe answers it if it did). One line, no stack
        // (Akka's own error line is not logged: the supervisor's line says it restarts).
        _log.Warning("Ingest journal {0} could not write at sequence {1} ({2}); {3} waiting frames answered AR", PersistenceId, sequenceNr,
            FailureText.Of(cause), _inFlight.Count + _waiters.Sum(w => w.Value.Count));
        foreach ((IActorRef replyTo, long correlation) in _inFlight.Values.Concat(_waiters.Values.SelectMany(w => w.Select(x => (x.ReplyTo, x.Append.CorrelationId)))))
        {
            replyTo.Tell(new AppendFailed(correlation));
        }

        _inFlight.Clear();
        _waiters.Clear();
    }

    /// <inheritdoc />
    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        // The store cannot be read (an outage): the actor stops and is restarted after a backoff; frames meanwhile are
        // answered AR at once (UndeliveredAppends). One line instead of Akka's error with the stack trace.
        _log.Warning("Ingest journal {0} could not recover from the store ({1}); frames are answered AR until it does", PersistenceId,
            FailureText.Of(reason));
    }

    private sealed class Subscription(IActorRef subscriber)
    {
        public IActorRef Subscriber { get; } = subscriber;

        public int Demand { get; set; }
    }

    private sealed record LoadedWindow(long HighWaterMark, DedupeKeys Window);

    // The window as the index gives it, oldest first: the newest maxKeys are kept (the index may hold more until its
    // next prune), straight into the window's tables (no list of a million keys in between).
    private sealed class WindowLoad(int maxKeys, DateTimeOffset since) : IKeySink
    {
        public DedupeKeys Keys { get; } = new();

        public void Expect(int keys) => Keys.EnsureCapacity(Math.Min(keys, maxKeys));

        public void Add(long keyHash, long contentHash, long sequenceNr, DateTimeOffset receivedAt)
        {
            Keys.Remember(keyHash, contentHash, sequenceNr, receivedAt);
            if (Keys.Count > maxKeys)
            {
                Keys.Evict(maxKeys, since);
            }
        }
    }

    private sealed record Loaded(LoadedWindow Keys, IReadOnlyList<MessageIndexEntry> Missing, IReadOnlyList<MessageIndexEntry> Unwritten);

    private sealed record LoadFailed(Exception Cause);

    private sealed record IndexWritten(List<MessageIndexEntry> Batch);

    private sealed record IndexWriteFailed(List<MessageIndexEntry> Batch, Exception Cause);

    private sealed record Pruned(int Count, Exception? Failure);

    private sealed record RetryIndex
    {
        public static RetryIndex Instance { get; } = new();
    }

    private sealed record Prune
    {
        public static Prune Instance { get; } = new();
    }
}
