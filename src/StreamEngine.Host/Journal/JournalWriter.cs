using System.Diagnostics;
using StreamEngine.Diagnostics;

namespace StreamEngine.Host.Journal;

/// <summary>
/// The journal's single writer. The caller that finds no commit running writes, on its own thread, every group queued
/// until the queue is empty; a caller that finds one running leaves its rows for that writer's next commit. So writes
/// that meet share one transaction (one fsync) in the order they were queued, and no commit waits for another thread
/// to be woken: on a busy two-core machine that hand-off cost more than the commit (perf/RESULTS.md).
/// </summary>
public sealed class JournalWriter : IDisposable
{
    // Enough to share one commit among hundreds of connections without making one transaction unbounded.
    private const int MaxRowsPerCommit = 4096;

    private readonly Func<IJournalRowWriter> _open;
    private readonly object _gate = new();
    private readonly List<JournalRowData> _rows = [];
    private List<Pending> _queue = [];
    private List<Pending> _group = [];
    private bool _writing;
    private bool _disposed;
    private IJournalRowWriter? _writer;

    /// <summary>Creates the writer; <paramref name="open"/> opens the store's row writer (again after a failure).</summary>
    public JournalWriter(Func<IJournalRowWriter> open) => _open = open;

    /// <summary>
    /// Writes the rows in the next commit. The task is complete once they are committed (or failed with the commit);
    /// it is usually complete on return, since the caller itself commits when no one else is.
    /// </summary>
    public Task Write(IReadOnlyList<JournalRowData> rows)
    {
        var pending = new Pending(rows);
        lock (_gate)
        {
            if (_disposed)
            {
                return Task.FromException(new ObjectDisposedException(nameof(JournalWriter), "The journal writer has stopped."));
            }

            _queue.Add(pending);
            if (_writing)
            {
                return pending.Done.Task;
            }

            _writing = true;
        }

        Drain();
        return pending.Done.Task;
    }

    private void Drain()
    {
        while (true)
        {
            lock (_gate)
            {
                if (_disposed)
                {
                    _writing = false;
                    foreach (Pending left in _queue)
                    {
                        left.Done.TrySetException(new ObjectDisposedException(nameof(JournalWriter), "The journal writer has stopped."));
                    }

                    _queue.Clear();
                    _writer?.Dispose();
                    _writer = null;
                    return;
                }

                if (_queue.Count == 0)
                {
                    _writing = false;
                    return;
                }

                (_group, _queue) = (_queue, _group);
            }

            // Within the cap a group is taken whole: the rows of one write are never split between two commits.
            int start = 0;
            while (start < _group.Count)
            {
                int end = start;
                _rows.Clear();
                do
                {
                    _rows.AddRange(_group[end].Rows);
                    end++;
                }
                while (end < _group.Count && _rows.Count + _group[end].Rows.Count <= MaxRowsPerCommit);

                Exception? failure = Commit();
                for (int i = start; i < end; i++)
                {
                    if (failure is null)
                    {
                        _group[i].Done.TrySetResult();
                    }
                    else
                    {
                        _group[i].Done.TrySetException(failure);
                    }
                }

                start = end;
            }

            _group.Clear();
        }
    }

    private Exception? Commit()
    {
        long started = Stopwatch.GetTimestamp();
        Exception? failure = null;
        try
        {
            _writer ??= _open();
            _writer.Insert(_rows);
        }
        catch (Exception e)
        {
            failure = e;
            _writer?.Dispose();
            _writer = null;
        }

        StreamEngineTelemetry.JournalCommitSeconds.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
        StreamEngineTelemetry.JournalCommitRows.Record(_rows.Count);
        StreamEngineTelemetry.JournalCommits.Add(1, new KeyValuePair<string, object?>("outcome", failure is null ? "ok" : "failed"));
        return failure;
    }

    /// <summary>Closes the connection once the commit running (if any) is done; later writes fail.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            if (_writing)
            {
                return; // the writing thread closes the connection when its commit is done
            }
        }

        _writer?.Dispose();
        _writer = null;
    }

    private sealed record Pending(IReadOnlyList<JournalRowData> Rows)
    {
        // Completed on the writing thread: the journal's continuation only forwards the results to its actors.
        public TaskCompletionSource Done { get; } = new();
    }
}
