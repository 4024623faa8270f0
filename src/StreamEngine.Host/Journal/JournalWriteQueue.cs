using System.Collections.Concurrent;

namespace StreamEngine.Host.Journal;

/// <summary>
/// The journal's single writer: a thread of its own that takes every group of rows queued while the previous commit
/// ran and writes them together, in one transaction, in the order they were queued. So all writers of the actor system
/// (ingest journals, sinks' watermarks) share each commit, and a blocking database call never holds a thread-pool thread.
/// </summary>
public sealed class JournalWriteQueue : IDisposable
{
    // Enough to share one commit among hundreds of connections without making one transaction's latency unbounded.
    private const int MaxRowsPerCommit = 4096;

    private readonly BlockingCollection<Pending> _queue = new(new ConcurrentQueue<Pending>());
    private readonly Func<IJournalRowWriter> _open;
    private readonly Thread _thread;
    private IJournalRowWriter? _writer;

    /// <summary>Starts the writer thread; <paramref name="open"/> opens the store's writer (again after a failure).</summary>
    public JournalWriteQueue(Func<IJournalRowWriter> open, string name)
    {
        _open = open;
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Queues rows for the next commit; the task completes once they are committed, or fails with the commit.</summary>
    public Task Enqueue(IReadOnlyList<JournalRowData> rows)
    {
        // Completed on the writer thread: the journal's continuation only forwards the results to its actors.
        var done = new TaskCompletionSource();
        try
        {
            _queue.Add(new Pending(rows, done));
        }
        catch (InvalidOperationException)
        {
            done.SetException(new InvalidOperationException("The journal writer has stopped."));
        }

        return done.Task;
    }

    private void Run()
    {
        var group = new List<Pending>();
        var rows = new List<JournalRowData>();
        foreach (Pending first in _queue.GetConsumingEnumerable())
        {
            group.Add(first);
            rows.AddRange(first.Rows);
            while (rows.Count < MaxRowsPerCommit && _queue.TryTake(out Pending? next))
            {
                group.Add(next);
                rows.AddRange(next.Rows);
            }

            Exception? failure = null;
            try
            {
                _writer ??= _open();
                _writer.Insert(rows);
            }
            catch (Exception e)
            {
                failure = e;
                _writer?.Dispose();
                _writer = null;
            }

            foreach (Pending pending in group)
            {
                if (failure is null)
                {
                    pending.Done.TrySetResult();
                }
                else
                {
                    pending.Done.TrySetException(failure);
                }
            }

            group.Clear();
            rows.Clear();
        }

        _writer?.Dispose();
        _writer = null;
    }

    /// <summary>Writes what is queued, then stops the thread.</summary>
    public void Dispose()
    {
        _queue.CompleteAdding();
        if (!_thread.Join(TimeSpan.FromSeconds(10)))
        {
            return; // a hung store: the thread is a background thread and dies with the process
        }

        _queue.Dispose();
    }

    private sealed record Pending(IReadOnlyList<JournalRowData> Rows, TaskCompletionSource Done);
}
