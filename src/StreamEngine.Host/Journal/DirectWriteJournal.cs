using System.Collections.Immutable;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Persistence.Sql;
using Akka.Persistence.Sql.Journal;
using Akka.Serialization;
using Akka.Util;

namespace StreamEngine.Host.Journal;

/// <summary>How the journal writes its rows: given to the actor system as a setup, so the plugin's actor can open it.</summary>
public sealed class JournalWriterSetup(Func<IJournalRowWriter> open) : Setup
{
    /// <summary>Opens the store's row writer.</summary>
    public Func<IJournalRowWriter> Open { get; } = open;
}

/// <summary>
/// Akka.Persistence.Sql's journal with its writes done directly: every other part (recovery, the highest sequence
/// number, deletes, the table, the read journal every sink and replay uses) is the plugin's own, on the same table.
/// <para>Why: the plugin writes each group through linq2db's multi-row insert, building and binding a statement of ten
/// named parameters per row every time (on SQLite the named lookup is quadratic in the group), behind a stream queue and
/// several task hops; that cost, not the disk, capped durable ingest (perf/RESULTS.md). Here rows are serialized
/// exactly as the plugin serializes them (same columns, manifest, serializer id, CSV tags, ticks in <c>created</c>) and
/// inserted by one prepared statement on one connection by a <see cref="JournalWriter"/>: one transaction (one fsync) per
/// write request, committed on the journal actor's thread, its replies told straight to the persistent actor. An ingest
/// journal's request holds every frame that arrived while its previous commit ran (Akka's Eventsourced keeps one write in
/// flight and batches the rest): group commit. A write is over before this actor takes its next message, so no read of
/// the highest sequence number (handled by this actor too) can overtake one, which is what the plugin's own bookkeeping
/// of writes in progress was for.</para>
/// <para>Supports what the engine configures: <c>tag-write-mode = Csv</c> and the plugin's default table and columns.</para>
/// </summary>
public sealed class DirectWriteJournal : SqlWriteJournal
{
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly JournalWriter _writer;
    private readonly string _writerUuid = Guid.NewGuid().ToString("N");
    private readonly string _tagSeparator;

    /// <summary>Created by Akka.Persistence from the plugin's configuration.</summary>
    public DirectWriteJournal(Akka.Configuration.Config journalConfig)
        : base(journalConfig)
    {
        _serialization = Context.System.Serialization;
        Akka.Configuration.Config config = journalConfig.WithFallback(SqlPersistence.DefaultJournalConfiguration);
        _tagSeparator = config.GetString("tag-separator", ";");
        string tagMode = config.GetString("tag-write-mode", "Csv");
        if (!string.Equals(tagMode, "Csv", StringComparison.OrdinalIgnoreCase))
        {
            throw new Akka.Configuration.ConfigurationException($"{nameof(DirectWriteJournal)} writes tags as CSV only; tag-write-mode is '{tagMode}'.");
        }

        Option<JournalWriterSetup> setup = Context.System.Settings.Setup.Get<JournalWriterSetup>();
        if (!setup.HasValue)
        {
            throw new InvalidOperationException($"{nameof(DirectWriteJournal)} needs a {nameof(JournalWriterSetup)} in the actor system's setup.");
        }

        _writer = new JournalWriter(setup.Value.Open);
    }

    /// <summary>
    /// Write requests are taken here rather than by the base class, which runs each through a circuit breaker and a
    /// task and sends every reply through a resequencing actor: a message and a hop more per event on the path every
    /// ACK waits for. The commit is synchronous, so the replies can go straight to the persistent actor, in the order
    /// the base class gives them (<see cref="WriteMessagesSuccessful"/> first, then one per event), and no later request
    /// to this actor (the highest sequence number, a replay, a delete) can overtake the write. Writes are not held back
    /// while the plugin creates its tables: the host creates them before the actor system starts, and an actor can only
    /// write after recovering through this actor.
    /// </summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        if (message is WriteMessages write)
        {
            Write(write);
            return true;
        }

        return base.AroundReceive(receive, message);
    }

    private void Write(WriteMessages write)
    {
        var rows = new List<JournalRowData>();
        Exception?[]? rejected;
        try
        {
            rejected = Serialize(PreparePersistentBatch(write.Messages), rows);
        }
        catch (Exception e)
        {
            // Preparing the batch (an event adapter) failed: every write in it is rejected, as the base class does.
            rows.Clear();
            rejected = [.. Enumerable.Repeat(e, write.Messages.Count(m => m is AtomicWrite))];
        }

        Exception? failure = Commit(rows);

        int instance = write.ActorInstanceId;
        IActorRef actor = write.PersistentActor;
        actor.Tell(failure is null ? WriteMessagesSuccessful.Instance : new WriteMessagesFailed(failure, write.Messages.Count(m => m is AtomicWrite)), Self);
        int atomic = 0;
        foreach (IPersistentEnvelope envelope in write.Messages)
        {
            if (envelope is not AtomicWrite atomicWrite)
            {
                actor.Tell(new LoopMessageSuccess(envelope.Payload, instance), envelope.Sender);
                continue;
            }

            Exception? cause = rejected is { } r && atomic < r.Length ? r[atomic] : null;
            foreach (IPersistentRepresentation persistent in (IImmutableList<IPersistentRepresentation>)atomicWrite.Payload)
            {
                object reply = failure is not null ? new WriteMessageFailure(persistent, failure, instance)
                    : cause is not null ? new WriteMessageRejected(persistent, cause, instance)
                    : new WriteMessageSuccess(persistent, instance);
                actor.Tell(reply, persistent.Sender);
            }

            atomic++;
        }
    }

    private Exception? Commit(List<JournalRowData> rows)
    {
        if (rows.Count == 0)
        {
            return null;
        }

        try
        {
            _writer.Commit(rows);
            return null;
        }
        catch (Exception e)
        {
            return e; // a failed commit fails every write in it
        }
    }

    // The atomic writes' rows into rows, in order; one cause per atomic write that could not be serialized (it is
    // rejected, as the plugin does, not the batch), or null when all were.
    private Exception?[]? Serialize(IEnumerable<AtomicWrite> messages, List<JournalRowData> rows)
    {
        long now = DateTime.UtcNow.Ticks;
        Exception?[]? rejected = null;
        int index = 0;
        foreach (AtomicWrite write in messages)
        {
            int before = rows.Count;
            try
            {
                foreach (IPersistentRepresentation representation in (IImmutableList<IPersistentRepresentation>)write.Payload)
                {
                    rows.Add(Serialize(representation, now));
                }
            }
            catch (Exception e)
            {
                rows.RemoveRange(before, rows.Count - before);
                rejected ??= new Exception?[index + 1];
                if (rejected.Length <= index)
                {
                    Array.Resize(ref rejected, index + 1);
                }

                rejected[index] = e;
            }

            index++;
        }

        if (rejected is not null && rejected.Length < index)
        {
            Array.Resize(ref rejected, index); // one result per atomic write, null where it was stored
        }

        return rejected;
    }

    /// <summary>Not called (<see cref="AroundReceive"/> takes every write request), but kept to the base class's contract.</summary>
    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var rows = new List<JournalRowData>();
        Exception?[]? rejected = Serialize(messages, rows);
        if (Commit(rows) is { } failure)
        {
            return Task.FromException<IImmutableList<Exception>>(failure);
        }

        return Task.FromResult<IImmutableList<Exception>>(rejected is null ? null! : ImmutableList.Create<Exception>(rejected!));
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        try
        {
            _writer.Dispose();
        }
        finally
        {
            base.PostStop();
        }
    }

    private JournalRowData Serialize(IPersistentRepresentation representation, long now)
    {
        object payload = representation.Payload;
        string tags = string.Empty;
        if (payload is Tagged tagged)
        {
            payload = tagged.Payload;
            if (tagged.Tags.Count > 0)
            {
                tags = _tagSeparator + string.Join(_tagSeparator, tagged.Tags) + _tagSeparator;
            }
        }

        Serializer serializer = _serialization.FindSerializerFor(payload);
        string manifest = serializer switch
        {
            SerializerWithStringManifest withManifest => withManifest.Manifest(payload),
            { IncludeManifest: true } => payload.GetType().TypeQualifiedName(),
            _ => string.Empty,
        };
        return new JournalRowData(representation.PersistenceId, representation.SequenceNr,
            representation.Timestamp == 0 ? now : representation.Timestamp, serializer.ToBinary(payload), tags, manifest,
            serializer.Identifier, _writerUuid);
    }
}
