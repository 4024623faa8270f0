using Microsoft.Data.Sqlite;
using StreamEngine.Host.Journal;

namespace StreamEngine.Host.Tests;

public sealed class JournalWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("se-writer-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private static JournalRowData Row(string pid, long seq, int size = 16) =>
        new(pid, seq, DateTime.UtcNow.Ticks, new byte[size], string.Empty, "M", 7301, "w");

    [Fact]
    public void AFailedCommit_FailsEveryWriteInIt_AndTheNextWriteOpensAFreshConnection()
    {
        var store = new RecordingStore { FailNext = true };
        using var writer = new JournalWriter(store.Open);
        InvalidOperationException failure = Assert.Throws<InvalidOperationException>(() => writer.Commit([Row("a", 1)]));
        Assert.Equal("injected", failure.Message);
        Assert.Equal(1, store.Disposed);

        writer.Commit([Row("a", 1)]);
        Assert.Equal(2, store.Opened);
        Assert.Equal(["a1"], store.Commits);
    }

    [Fact]
    public void AConnectionThatCannotBeClosed_IsDropped_AndTheNextWriteOpensAnother()
    {
        var store = new RecordingStore { FailNext = true, ThrowOnDispose = true };
        using var writer = new JournalWriter(store.Open);
        Assert.Throws<InvalidOperationException>(() => writer.Commit([Row("a", 1)]));
        writer.Commit([Row("a", 1)]);
        Assert.Equal(2, store.Opened);
        Assert.Equal(["a1"], store.Commits);
    }

    [Fact]
    public void AfterDispose_WritesFail_AndTheConnectionIsClosed()
    {
        var store = new RecordingStore();
        var writer = new JournalWriter(store.Open);
        writer.Commit([Row("a", 1)]);
        writer.Dispose();
        Assert.Equal(1, store.Disposed);
        Assert.Throws<ObjectDisposedException>(() => writer.Commit([Row("a", 2)]));
    }

    [Fact]
    public void OnSqlite_TheWalStaysBounded_UnderUnbrokenWrites()
    {
        // The background checkpoint alone cannot restart the WAL while commits keep coming; the writer's own backstop does.
        string connectionString = SqliteStore.ConnectionString(_dir);
        SqliteStore.PrepareJournal(connectionString);
        const int Backstop = 64; // pages
        using (var writer = new SqliteJournalRowWriter(connectionString, "FULL", Backstop))
        {
            long seq = 0;
            for (int commit = 0; commit < 400; commit++)
            {
                writer.Insert([.. Enumerable.Range(0, 5).Select(_ => Row("p", ++seq, 2048))]);
            }
        }

        // 2,000 rows of 2 KiB went through (about 4 MiB); the WAL never held much more than the backstop's pages.
        long wal = new FileInfo(Path.Combine(_dir, "streamengine.db-wal")).Length;
        Assert.InRange(wal, 0, 4 * Backstop * 4096);
        using var db = new SqliteConnection(connectionString);
        db.Open();
        using SqliteCommand count = db.CreateCommand();
        count.CommandText = "SELECT count(*), min(sequence_number), max(sequence_number) FROM journal WHERE persistence_id = 'p'";
        using SqliteDataReader reader = count.ExecuteReader();
        Assert.True(reader.Read());
        Assert.Equal((2000L, 1L, 2000L), (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2)));
    }

    [Theory]
    [InlineData(StreamEngine.Pipeline.Durability.Fsync, 2L)] // FULL: each commit waits for the WAL's fsync
    [InlineData(StreamEngine.Pipeline.Durability.Os, 1L)]    // NORMAL
    public void OnSqlite_TheWritersConnection_HasTheDurabilityMode(StreamEngine.Pipeline.Durability durability, long expected)
    {
        string connectionString = SqliteStore.ConnectionString(_dir);
        SqliteStore.PrepareJournal(connectionString);
        using var writer = new SqliteJournalRowWriter(connectionString, SqliteStore.Synchronous(durability));
        Assert.Equal(expected, writer.Synchronous());
    }

    private sealed class RecordingStore
    {
        public List<string> Commits { get; } = [];

        public int Opened { get; private set; }

        public int Disposed { get; set; }

        public bool FailNext { get; set; }

        public bool ThrowOnDispose { get; set; }

        public IJournalRowWriter Open()
        {
            Opened++;
            return new Writer(this);
        }

        private sealed class Writer(RecordingStore store) : IJournalRowWriter
        {
            public void Insert(IReadOnlyList<JournalRowData> rows)
            {
                if (store.FailNext)
                {
                    store.FailNext = false;
                    throw new InvalidOperationException("injected");
                }

                store.Commits.Add(string.Join(' ', rows.Select(r => $"{r.PersistenceId}{r.SequenceNr}")));
            }

            public void Dispose()
            {
                store.Disposed++;
                if (store.ThrowOnDispose)
                {
                    throw new IOException("cannot close");
                }
            }
        }
    }
}
