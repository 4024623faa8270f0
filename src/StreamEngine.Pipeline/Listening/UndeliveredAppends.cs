using Akka.Actor;
using Akka.Event;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.Pipeline.Listening;

/// <summary>
/// Answers, at once, a frame whose append never reached a running ingest journal: while a journal is between a
/// failure and its restart (its backoff supervisor has no child) an append goes to dead letters, as do the appends
/// queued in a journal that stopped (a store outage). Without this the connection waited out its commit timeout
/// (30 s per message) before answering AR; now it answers AR 207 ("try again later") straight away, so senders back
/// off and resend, and dedupe makes a resend of anything that did commit harmless.
/// </summary>
public sealed class UndeliveredAppends : ReceiveActor
{
    /// <summary>Creates the actor; it listens to the system's dead letters while it runs.</summary>
    public UndeliveredAppends()
    {
        Receive<DeadLetter>(letter =>
        {
            if (letter.Message is Append append && !letter.Sender.IsNobody() && !letter.Sender.Equals(Context.System.DeadLetters))
            {
                letter.Sender.Tell(new AppendFailed(append.CorrelationId), ActorRefs.NoSender);
            }
        });
    }

    /// <summary>Props for the actor.</summary>
    public static Props Props() => Akka.Actor.Props.Create(() => new UndeliveredAppends());

    /// <inheritdoc />
    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(DeadLetter));

    /// <inheritdoc />
    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
}
