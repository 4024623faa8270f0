using Akka.Actor;

namespace StreamEngine.Pipeline;

/// <summary>
/// How a failure is named in the log: the type and the first line of the message of what went wrong (not of the
/// wrappers around it), never a stack trace. Store, I/O, HTTP and TLS errors carry no message content in that line.
/// </summary>
internal static class FailureText
{
    /// <summary>"Type: first line of the message" of the innermost meaningful exception.</summary>
    public static string Of(Exception failure)
    {
        Exception cause = failure;
        while (cause is AggregateException or ActorInitializationException or System.Reflection.TargetInvocationException && cause.InnerException is not null)
        {
            cause = cause.InnerException!;
        }

        return $"{cause.GetType().Name}: {cause.Message.Split('\n', 2)[0].Trim()}";
    }
}
