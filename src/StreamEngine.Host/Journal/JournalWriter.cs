using System.Diagnostics;
using StreamEngine.Diagnostics;

namespace StreamEngine.Host.Journal;

/// <summary>
/// The journal's single writer: commits each group of rows (one write request of the journal actor: for an ingest
/// journal, every frame that arrived while its previous commit ran) in one transaction, on the calling thread. Handing
/// the commit to a thread of its own cost more than the commit on a busy two-core machine (waking it took 240-600 µs;
/// perf/RESULTS.md), and the journal actor has nothing else to do meanwhile: each persistent actor has one write in
/// flight at a time. A failed commit closes the connection; the next one opens a fresh one. Used by the journal actor
/// alone (commits and its stop run on it one at a time), so it takes no lock.
/// </summary>
public sealed class JournalWriter : IDisposable
{
    private readonly Func<IJournalRowWriter> _open;
    private bool _disposed;
    private IJournalRowWriter? _writer;

    /// <summary>Creates the writer; <paramref name="open"/> opens the store's row writer (again after a failure).</summary>
    public JournalWriter(Func<IJournalRowWriter> open) => _open = open;

    /// <summary>Commits the rows in one transaction; throws what made the commit fail (nothing of the group is stored).</summary>
    public void Commit(IReadOnlyList<JournalRowData> rows)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long started = Stopwatch.GetTimestamp();
        try
        {
            _writer ??= _open();
            _writer.Insert(rows);
        }
        catch (Exception)
        {
            Close();
            Record(started, rows.Count, "failed");
            throw;
        }

        Record(started, rows.Count, "ok");
    }

    private static void Record(long started, int rows, string outcome)
    {
        StreamEngineTelemetry.JournalCommitSeconds.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
        StreamEngineTelemetry.JournalCommitRows.Record(rows);
        StreamEngineTelemetry.JournalCommits.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
    }

    // Never throws: a connection that cannot even be closed cleanly is dropped, and the next commit opens a new one.
    private void Close()
    {
        try
        {
            _writer?.Dispose();
        }
        catch (Exception)
        {
            // nothing more to do with it
        }

        _writer = null;
    }

    /// <summary>Closes the connection; later commits fail.</summary>
    public void Dispose()
    {
        _disposed = true;
        Close();
    }
}
