using Akka.Actor;
using Akka.Event;
using Akka.IO;
using StreamEngine.Diagnostics;
using StreamEngine.Hl7v2;
using StreamEngine.Mllp;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.Pipeline.Listening;

/// <summary>
/// One MLLP frame from a connection's framing stage, awaiting its ACK: answered through <see cref="Reply"/> when the
/// stream supplies one (no ask per message), else to the sender.
/// </summary>
public sealed class InboundFrame(byte[] payload, TaskCompletionSource<ByteString>? reply = null)
{
    /// <summary>The frame payload (the HL7 message).</summary>
    public byte[] Payload { get; } = payload;

    /// <summary>Where the framed ACK goes, or null to answer the sender.</summary>
    public TaskCompletionSource<ByteString>? Reply { get; } = reply;

    /// <summary>
    /// Writes a framed answer to the connection, or null to hand it to <see cref="Reply"/>. Given, the answer is written
    /// by whichever thread gives it (the ingest journal's persist callback for an ACK), and <see cref="Reply"/> completes
    /// empty once it is written (or with the write's failure): no hop through the connection's graph before the ACK
    /// goes out. It must not block: an asynchronous write that completes when the peer has taken the bytes.
    /// </summary>
    public Func<ByteString, Task>? WriteAnswer { get; init; }

    /// <inheritdoc />
    public override string ToString() => $"InboundFrame({Payload.Length} bytes)";
}

/// <summary>
/// One live MLLP connection. For each frame: parse, hand to the ingest journal, and answer the stream with the
/// framed ACK only once the journal has committed (AA/CA), or with AR/CR and an ERR segment when the frame has no
/// usable MSH or the commit fails or times out. An empty answer means the sender asked for no ACK (MSH-15 = NE).
/// A usable frame from the stream hands the journal its ACK, built in advance, and the journal's persist callback
/// answers with it (<see cref="ICommitAnswer"/>): no hop back through this actor per message. With the stream's writer
/// (<see cref="InboundFrame.WriteAnswer"/>), the answer goes to the socket from that callback; a frame is answered once.
/// </summary>
public sealed class ConnectionActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ListenerSettings _listener;
    private readonly IActorRef _journal;
    private readonly Hl7AckBuilder _acks;
    private readonly Dictionary<long, PendingMessage> _pending = [];
    private readonly KeyValuePair<string, object?> _listenerTag;
    private readonly PatientKeyHasher _hasher;

    // Frames whose ACK the journal gives directly on commit, oldest first: dropped from _pending once answered.
    private readonly Queue<(long Correlation, PendingMessage Pending)> _answeredByJournal = new();
    private long _nextCorrelation;

    // Rejected frames, for the log: the listener's, shared by its connections (the listener sums up the last when it stops).
    private readonly CodedLog _rejections;

    // MLLP release 2's commit acknowledgements, framed: the same bytes for every frame, so made once.
    private static readonly ByteString CommitAck = ByteString.FromBytes(MllpFrame.CommitAck.ToArray());
    private static readonly ByteString CommitNak = ByteString.FromBytes(MllpFrame.CommitNak.ToArray());

    // Batches are bounded by the frame size (maxFrameBytes), not by the per-message segment limit.
    private static readonly Hl7ParseOptions BatchOptions = Hl7ParseOptions.Default with { MaxSegments = int.MaxValue };

    /// <summary>Creates the actor for one connection.</summary>
    public ConnectionActor(ListenerSettings listener, IActorRef journal, Hl7AckBuilder acks, PatientKeyHasher hasher, CodedLog? rejections = null)
    {
        _rejections = rejections ?? new CodedLog();
        _hasher = hasher;
        _listener = listener;
        _journal = journal;
        _acks = acks;
        _listenerTag = new("listener", listener.Id);

        Receive<InboundFrame>(OnFrame);
        Receive<Journaled>(j => _ = Complete(j.CorrelationId, committed: true));
        Receive<AppendFailed>(f => _ = Complete(f.CorrelationId, committed: false));
        Receive<SweepCommits>(_ =>
        {
            // One periodic check per connection instead of a timer per message.
            ForgetAnswered();
            SumUpRejections();
            long now = Environment.TickCount64;
            foreach (long correlation in _pending.Where(p => p.Value.Deadline <= now).Select(p => p.Key).ToList())
            {
                // False for one the journal has answered meanwhile (it may sit behind one it has not): nothing to log.
                if (Complete(correlation, committed: false))
                {
                    _log.Warning("Listener {0}: journal commit timed out after {1}; answered AR 207", _listener.Id, _listener.CommitTimeout);
                }
            }
        });
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <inheritdoc />
    protected override void PreStart() =>
        Timers.StartPeriodicTimer("commits", SweepCommits.Instance, TimeSpan.FromTicks(Math.Max(_listener.CommitTimeout.Ticks / 4, TimeSpan.TicksPerMillisecond * 10)));

    /// <summary>
    /// The answer a frame gets when the connection's actor stops before answering it (the engine stopping), or when its
    /// answer could not be written because the peer is gone: the connection's stream ends there, quietly, and the sender
    /// sends the message again later. Told apart by reference.
    /// </summary>
    public static readonly ByteString Stopped = ByteString.CopyFrom([0]);

    /// <summary>
    /// True for a failure to write an answer that means the peer is gone (reset, closed) or does not read (the write
    /// limit): the connection ends, which is logged when it closes, never as an error.
    /// </summary>
    public static bool IsPeerGone(Exception e) => e is IOException or ObjectDisposedException or OperationCanceledException;

    // A write that failed because the peer is gone ends the connection's stream quietly; any other failure fails it.
    private static void Failed(TaskCompletionSource<ByteString> answer, Exception e)
    {
        if (IsPeerGone(e))
        {
            answer.TrySetResult(Stopped);
        }
        else
        {
            answer.TrySetException(e);
        }
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        // The connection is gone: release any stream still waiting on an answer.
        foreach (PendingMessage pending in _pending.Values)
        {
            (pending.ReplyTo ?? pending.Batch?.ReplyTo)?.Promise?.TrySetResult(Stopped);
        }
    }

    /// <summary>Props for a connection actor.</summary>
    public static Props Props(ListenerSettings listener, IActorRef journal, Hl7AckBuilder acks, PatientKeyHasher hasher) =>
        Akka.Actor.Props.Create(() => new ConnectionActor(listener, journal, acks, hasher, null));

    /// <summary>Props for a connection actor of a listener whose rejections are logged together.</summary>
    public static Props Props(ListenerSettings listener, IActorRef journal, Hl7AckBuilder acks, PatientKeyHasher hasher, CodedLog rejections) =>
        Akka.Actor.Props.Create(() => new ConnectionActor(listener, journal, acks, hasher, rejections));

    private void OnFrame(InboundFrame frame)
    {
        ForgetAnswered();
        StreamEngineTelemetry.FramesReceived.Add(1, _listenerTag);
        DateTimeOffset receivedAt = DateTimeOffset.UtcNow;
        if (Hl7Batch.StartsWithEnvelope(frame.Payload))
        {
            // A batch is taken whole or not at all: one with a wrong count, a stray segment or no message is kept
            // raw for quarantine and answered AR, so the sender can correct and resend it.
            if (Hl7Batch.TryParse(frame.Payload, out Hl7Batch? batch, out IReadOnlyList<Hl7Issue> batchIssues, BatchOptions)
                && batchIssues.Count == 0 && batch!.Messages.Any())
            {
                OnBatch(frame, batch, receivedAt);
                return;
            }

            Journal(frame.Payload, receivedAt, new PendingMessage(new Replier(Sender, frame.Reply, frame.WriteAnswer), null, -1), rejectAs: nameof(Hl7IssueCode.BadBatch));
            return;
        }

        Journal(frame.Payload, receivedAt, new PendingMessage(new Replier(Sender, frame.Reply, frame.WriteAnswer), null, -1));
    }

    // One frame holding a batch: every message is journaled (in one commit group, as they are appended in one turn),
    // and the answer is an acknowledgment batch once all of them are settled.
    private void OnBatch(InboundFrame frame, Hl7Batch batch, DateTimeOffset receivedAt)
    {
        ReadOnlyMemory<byte>[] messages = [.. batch.Messages];
        Hl7Segment header = batch.Groups.Select(g => g.Header).FirstOrDefault(h => h is not null) ?? batch.Envelope[0];
        var pendingBatch = new PendingBatch(new Replier(Sender, frame.Reply, frame.WriteAnswer), header, batch.Envelope.Delimiters, messages.Length);
        for (int i = 0; i < messages.Length; i++)
        {
            Journal(messages[i].ToArray(), receivedAt, new PendingMessage(null, pendingBatch, i));
        }

        _log.Debug("Listener {0}: batch frame of {1} messages ({2} bytes)", _listener.Id, messages.Length, frame.Payload.Length);
    }

    private void Journal(byte[] payload, DateTimeOffset receivedAt, PendingMessage pending, string? rejectAs = null)
    {
        long correlation = ++_nextCorrelation;
        IIngestEvent evt;
        if (rejectAs is not null)
        {
            WarnRejected(rejectAs);
            evt = new FrameRejected(payload, receivedAt, rejectAs);
            pending.Error = new AckError(Hl7ErrorCode.SegmentSequenceError);
            pending.LooseControlId = Hl7AckBuilder.LooseControlId(payload);
        }
        else if (Hl7Parser.TryParse(payload, out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues) && message is not null
            && !LacksControlId(message))
        {
            Hl7Segment msh = message.Msh;
            evt = new MessageReceived(payload, receivedAt, msh.Field(3).Component(1).ToString(), msh.Field(4).Component(1).ToString(),
                message.MessageType, message.ControlId, msh.Field(7).Component(1).ToString(), MessageFingerprint.ContentHash(payload),
                _hasher.Hash(PatientKey.Of(message)), _hasher.Hash(PatientKey.PriorOf(message)));
            pending.Message = message;
        }
        else
        {
            // No MSH-10 is a parser warning, but not a message to take in: its ACK could not name it (MSA-2), a resend
            // could not be recognised, and no sink could deliver it idempotently.
            bool noControlId = message is not null && !issues.Any(i => i.IsError) && LacksControlId(message); // a real error wins
            string reason = noControlId ? nameof(Hl7IssueCode.MissingControlId) : FirstError(issues);
            WarnRejected(reason);
            evt = new FrameRejected(payload, receivedAt, reason);
            // A frame that failed a later check (e.g. no MSH-9) still has a readable MSH: echo its control id.
            pending.Error = noControlId ? new AckError(Hl7ErrorCode.RequiredFieldMissing, "MSH", 1, 10) : AckError.From(issues);
            if (message is not null && message.Msh.IdSpan.SequenceEqual("MSH"u8))
            {
                pending.Message = message; // the header is readable: the NAK swaps its parties and follows its version
            }
            else
            {
                pending.LooseControlId = Hl7AckBuilder.LooseControlId(payload);
            }
        }

        pending.Deadline = Environment.TickCount64 + (long)_listener.CommitTimeout.TotalMilliseconds;
        _pending[correlation] = pending;
        if (pending.ReplyTo?.Promise is not null && pending.Error is null && evt is MessageReceived)
        {
            // The usual frame: its positive ACK is built now and the journal sends it the moment the frame commits,
            // without a hop back through this actor. A failed or timed-out commit still comes here for its NAK.
            PrepareAck(pending);
            _answeredByJournal.Enqueue((correlation, pending));
            _journal.Tell(new Append(correlation, evt, pending));
            return;
        }

        _journal.Tell(new Append(correlation, evt));
    }

    private void PrepareAck(PendingMessage pending)
    {
        if (_listener.MllpRelease2)
        {
            pending.Prepare(CommitAck, "ACK", _listenerTag);
            return;
        }

        string? code = Hl7AckBuilder.Code(pending.Message, AckOutcome.Accepted);
        ByteString ack = code is null ? ByteString.Empty : ByteString.FromBytes(MllpFrame.Wrap(_acks.Build(pending.Message, code, null, null, DateTimeOffset.Now)));
        pending.Prepare(ack, code, _listenerTag);
    }

    // Drops the frames the journal has answered (oldest first; one still waiting keeps the ones behind it a while).
    private void ForgetAnswered()
    {
        while (_answeredByJournal.TryPeek(out var head) && head.Pending.Answered)
        {
            _answeredByJournal.Dequeue();
            _pending.Remove(head.Correlation);
        }
    }

    // Answers one frame; false when it had been answered already (a late commit after a timeout, or the journal's own
    // answer winning the race with a timeout or a failure).
    private bool Complete(long correlation, bool committed)
    {
        if (!_pending.Remove(correlation, out PendingMessage? pending))
        {
            return false;
        }

        if (_listener.MllpRelease2 && pending.Batch is null)
        {
            bool stored = committed && pending.Error is null;
            if (!pending.ReplyTo!.Send(stored ? CommitAck : CommitNak))
            {
                return false;
            }

            StreamEngineTelemetry.AcksSent.Add(1, _listenerTag, new("code", stored ? "ACK" : "NAK"));
            return true;
        }

        string? code;
        AckError? error;
        if (!committed)
        {
            code = Hl7AckBuilder.Code(pending.Message, AckOutcome.Rejected);
            error = new AckError(Hl7ErrorCode.ApplicationInternalError);
        }
        else if (pending.Error is not null)
        {
            code = Hl7AckBuilder.Code(pending.Message, AckOutcome.Rejected); // AR, or CR in enhanced mode; whatever MSH-15 asked
            error = pending.Error;
        }
        else
        {
            code = Hl7AckBuilder.Code(pending.Message, AckOutcome.Accepted);
            error = null;
        }

        byte[]? ack = code is null ? null : _acks.Build(pending.Message, code, error, pending.LooseControlId, DateTimeOffset.Now);
        if (pending.Batch is { } batch)
        {
            if (code is not null)
            {
                StreamEngineTelemetry.AcksSent.Add(1, _listenerTag, new("code", code));
            }

            batch.Acks[pending.Index] = ack;
            if (--batch.Remaining == 0)
            {
                byte[] ackBatch = _acks.BuildBatch(batch.Header, batch.Delimiters, [.. batch.Acks.OfType<byte[]>()], DateTimeOffset.Now);
                batch.ReplyTo.Send(ByteString.FromBytes(MllpFrame.Wrap(ackBatch)));
            }

            return true;
        }

        // False when the journal answered first (a commit racing its timeout): that answer stands.
        if (!pending.ReplyTo!.Send(ack is null ? ByteString.Empty : ByteString.FromBytes(MllpFrame.Wrap(ack))))
        {
            return false;
        }

        if (code is not null)
        {
            StreamEngineTelemetry.AcksSent.Add(1, _listenerTag, new("code", code));
        }

        return true;
    }

    private void WarnRejected(string reason)
    {
        if (_rejections.First(reason))
        {
            _log.Warning("Listener {0}: frame rejected ({1}); journaled for quarantine and answered AR (CR in enhanced mode)", _listener.Id, reason);
            return;
        }

        SumUpRejections();
    }

    // One line for the rejections not logged one by one since the last such line, when one is due.
    private void SumUpRejections()
    {
        if (_rejections.TakeSummary(force: false) is { } summary)
        {
            LogRejectionSummary(_log, _listener.Id, summary);
        }
    }

    /// <summary>Logs a <see cref="CodedLog"/> summary (the listener logs its last one when it stops).</summary>
    internal static void LogRejectionSummary(ILoggingAdapter log, string listenerId, string summary) =>
        log.Warning("Listener {0}: {1} more frame(s) rejected since the last such line; each journaled for quarantine and answered", listenerId, summary);

    // MSH-10 empty or blank (the parser reports an empty one as MissingControlId, a warning).
    private static bool LacksControlId(Hl7Message message) => message.Msh.Field(10).Span.Trim((byte)' ').IsEmpty;

    private static string FirstError(IReadOnlyList<Hl7Issue> issues)
    {
        foreach (Hl7Issue issue in issues)
        {
            if (issue.IsError)
            {
                return issue.Code.ToString();
            }
        }

        return issues.Count > 0 ? issues[0].Code.ToString() : nameof(Hl7IssueCode.BadMsh);
    }

    // Answers one frame, once: whoever answers first (the journal's commit, or this actor's NAK on a failure or timeout)
    // writes it; false if it had been answered already. With the stream's writer the answer goes straight to the socket
    // and the stream's promise completes empty once written; else the promise carries it, or the asking actor gets it.
    private sealed class Replier(IActorRef sender, TaskCompletionSource<ByteString>? promise, Func<ByteString, Task>? write)
    {
        private int _claimed;

        public TaskCompletionSource<ByteString>? Promise => promise;

        public bool Answered => Volatile.Read(ref _claimed) != 0;

        public bool Send(ByteString ack)
        {
            if (Interlocked.Exchange(ref _claimed, 1) != 0)
            {
                return false;
            }

            if (promise is null)
            {
                sender.Tell(ack);
                return true;
            }

            if (write is null || ack.IsEmpty)
            {
                return promise.TrySetResult(ack);
            }

            Task written;
            try
            {
                written = write(ack);
            }
            catch (Exception e)
            {
                Failed(promise, e);
                return true;
            }

            if (written.IsCompletedSuccessfully)
            {
                promise.TrySetResult(ByteString.Empty); // written: the stream has nothing left to send for this frame
            }
            else
            {
                written.ContinueWith(static (t, state) =>
                {
                    var answered = (TaskCompletionSource<ByteString>)state!;
                    if (t.IsCompletedSuccessfully)
                    {
                        answered.TrySetResult(ByteString.Empty);
                    }
                    else
                    {
                        Failed(answered, t.Exception?.GetBaseException() ?? new OperationCanceledException("The answer's write was cancelled."));
                    }
                }, promise, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            return true;
        }
    }

    private sealed class PendingMessage(Replier? replyTo, PendingBatch? batch, int index) : ICommitAnswer
    {
        private ByteString? _ack;
        private string? _code;
        private KeyValuePair<string, object?> _listenerTag;

        public Replier? ReplyTo { get; } = replyTo;

        // Answered, by the journal or by this actor (a frame is answered once).
        public bool Answered => ReplyTo?.Answered == true;

        public long Deadline { get; set; }

        public PendingBatch? Batch { get; } = batch;

        public int Index { get; } = index;

        public Hl7Message? Message { get; set; }

        public AckError? Error { get; set; }

        public string? LooseControlId { get; set; }

        public void Prepare(ByteString ack, string? code, KeyValuePair<string, object?> listenerTag)
        {
            _ack = ack;
            _code = code;
            _listenerTag = listenerTag;
        }

        // On the journal's thread, from its persist callback.
        public void Committed(long sequenceNr, bool duplicate)
        {
            if (ReplyTo!.Send(_ack!) && _code is not null)
            {
                StreamEngineTelemetry.AcksSent.Add(1, _listenerTag, new("code", _code));
            }
        }
    }

    private sealed class PendingBatch(Replier replyTo, Hl7Segment header, Delimiters delimiters, int count)
    {
        public Replier ReplyTo { get; } = replyTo;

        public Hl7Segment Header { get; } = header;

        public Delimiters Delimiters { get; } = delimiters;

        public byte[]?[] Acks { get; } = new byte[]?[count];

        public int Remaining { get; set; } = count;
    }

    private sealed record SweepCommits
    {
        public static SweepCommits Instance { get; } = new();
    }
}
