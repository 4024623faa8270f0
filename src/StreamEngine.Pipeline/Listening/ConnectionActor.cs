using Akka.Actor;
using Akka.Event;
using Akka.IO;
using StreamEngine.Diagnostics;
using StreamEngine.Hl7v2;
using StreamEngine.Mllp;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.Pipeline.Listening;

/// <summary>One MLLP frame from a connection's framing stage, awaiting its ACK.</summary>
public sealed class InboundFrame(byte[] payload)
{
    /// <summary>The frame payload (the HL7 message).</summary>
    public byte[] Payload { get; } = payload;

    /// <inheritdoc />
    public override string ToString() => $"InboundFrame({Payload.Length} bytes)";
}

/// <summary>
/// One live MLLP connection. For each frame: parse, hand to the ingest journal, and answer the stream with the
/// framed ACK only once the journal has committed (AA/CA), or with AR/CR and an ERR segment when the frame has no
/// usable MSH or the commit fails or times out. An empty answer means the sender asked for no ACK (MSH-15 = NE).
/// </summary>
public sealed class ConnectionActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ListenerSettings _listener;
    private readonly IActorRef _journal;
    private readonly Hl7AckBuilder _acks;
    private readonly Dictionary<long, Pending> _pending = [];
    private readonly KeyValuePair<string, object?> _listenerTag;
    private long _nextCorrelation;

    /// <summary>Creates the actor for one connection.</summary>
    public ConnectionActor(ListenerSettings listener, IActorRef journal, Hl7AckBuilder acks)
    {
        _listener = listener;
        _journal = journal;
        _acks = acks;
        _listenerTag = new("listener", listener.Id);

        Receive<InboundFrame>(OnFrame);
        Receive<Journaled>(j => Complete(j.CorrelationId, committed: true));
        Receive<AppendFailed>(f => Complete(f.CorrelationId, committed: false));
        Receive<CommitTimedOut>(t =>
        {
            if (_pending.ContainsKey(t.CorrelationId))
            {
                _log.Warning("Listener {0}: journal commit timed out after {1}; answering AR 207", _listener.Id, _listener.CommitTimeout);
                Complete(t.CorrelationId, committed: false);
            }
        });
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props for a connection actor.</summary>
    public static Props Props(ListenerSettings listener, IActorRef journal, Hl7AckBuilder acks) =>
        Akka.Actor.Props.Create(() => new ConnectionActor(listener, journal, acks));

    private void OnFrame(InboundFrame frame)
    {
        StreamEngineTelemetry.FramesReceived.Add(1, _listenerTag);
        DateTimeOffset receivedAt = DateTimeOffset.UtcNow;
        long correlation = ++_nextCorrelation;
        IIngestEvent evt;
        Pending pending;
        if (Hl7Parser.TryParse(frame.Payload, out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues) && message is not null)
        {
            Hl7Segment msh = message.Msh;
            evt = new MessageReceived(frame.Payload, receivedAt, msh.Field(3).Component(1).ToString(), msh.Field(4).Component(1).ToString(),
                message.MessageType, message.ControlId, msh.Field(7).Component(1).ToString());
            pending = new Pending(Sender, message, null, null);
        }
        else
        {
            string reason = FirstError(issues);
            _log.Warning("Listener {0}: frame rejected ({1}); journaled for quarantine and answered AR", _listener.Id, reason);
            evt = new FrameRejected(frame.Payload, receivedAt, reason);
            // A frame that failed a later check (e.g. no MSH-9) still has a readable MSH: echo its control id.
            pending = new Pending(Sender, null, AckError.From(issues),
                message is not null ? message.ControlId : Hl7AckBuilder.LooseControlId(frame.Payload));
        }

        _pending[correlation] = pending;
        _journal.Tell(new Append(correlation, evt));
        Timers.StartSingleTimer(correlation, new CommitTimedOut(correlation), _listener.CommitTimeout);
    }

    private void Complete(long correlation, bool committed)
    {
        if (!_pending.Remove(correlation, out Pending? pending))
        {
            return; // already answered (a late commit after a timeout)
        }

        Timers.Cancel(correlation);

        string? code;
        AckError? error;
        if (!committed)
        {
            code = Hl7AckBuilder.Code(pending.Message, AckOutcome.Rejected);
            error = new AckError(Hl7ErrorCode.ApplicationInternalError);
        }
        else if (pending.Message is null)
        {
            code = "AR";
            error = pending.Error;
        }
        else
        {
            code = Hl7AckBuilder.Code(pending.Message, AckOutcome.Accepted);
            error = null;
        }

        if (code is null)
        {
            pending.ReplyTo.Tell(ByteString.Empty);
            return;
        }

        byte[] ack = _acks.Build(pending.Message, code, error, pending.LooseControlId, DateTimeOffset.Now);
        StreamEngineTelemetry.AcksSent.Add(1, _listenerTag, new("code", code));
        pending.ReplyTo.Tell(ByteString.FromBytes(MllpFrame.Wrap(ack)));
    }

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

    private sealed record Pending(IActorRef ReplyTo, Hl7Message? Message, AckError? Error, string? LooseControlId);

    private sealed record CommitTimedOut(long CorrelationId);
}
