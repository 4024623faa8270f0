using System.Collections.Concurrent;

namespace StreamEngine.Pipeline.Index;

/// <summary>
/// Runs a stream's message index writes one after another on a thread of its own, kept for the ingest journal's life:
/// an embedded database works synchronously underneath, and a long write on the thread pool would take a thread from
/// the actors and the ACK path. (A new thread for each write, a long-running task, cost a thread start and exit per
/// index commit.) Disposing lets the write in progress and those queued finish, then the thread ends.
/// </summary>
internal sealed class IndexWriterThread : IDisposable
{
    private readonly BlockingCollection<(Func<Task> Work, TaskCompletionSource Done)> _queue = new();

    /// <summary>Starts the thread.</summary>
    /// <param name="name">The thread's name (Linux shows its first 15 characters).</param>
    public IndexWriterThread(string name) => new Thread(Loop) { IsBackground = true, Name = name }.Start();

    /// <summary>Queues <paramref name="write"/>; the task completes (or fails) when it has run to its end on the thread.</summary>
    public Task Run(Func<Task> write)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            _queue.Add((write, done));
        }
        catch (InvalidOperationException)
        {
            done.SetException(new ObjectDisposedException(nameof(IndexWriterThread)));
        }

        return done.Task;
    }

    /// <inheritdoc />
    public void Dispose() => _queue.CompleteAdding();

    private void Loop()
    {
        foreach ((Func<Task> write, TaskCompletionSource done) in _queue.GetConsumingEnumerable())
        {
            try
            {
                write().GetAwaiter().GetResult();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }

        _queue.Dispose();
    }
}
