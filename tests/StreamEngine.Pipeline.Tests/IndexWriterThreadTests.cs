using StreamEngine.Pipeline.Index;

namespace StreamEngine.Pipeline.Tests;

public sealed class IndexWriterThreadTests
{
    [Fact]
    public async Task Writes_RunInOrder_OnOneThreadOfTheirOwn_AndAFailedOneFailsAlone()
    {
        using var writer = new IndexWriterThread("index-test");
        var threads = new List<int>();
        var order = new List<int>();
        var tasks = new List<Task>();
        for (int i = 0; i < 20; i++)
        {
            int n = i;
            tasks.Add(writer.Run(() =>
            {
                threads.Add(Environment.CurrentManagedThreadId);
                order.Add(n);
                return n == 7 ? Task.FromException(new IOException("disk full")) : Task.CompletedTask;
            }));
        }

        await Assert.ThrowsAsync<IOException>(() => tasks[7]).WaitAsync(TimeSpan.FromSeconds(30));
        await Task.WhenAll(tasks.Where((_, i) => i != 7)).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(0, 20), order);
        int thread = Assert.Single(threads.Distinct());
        Assert.NotEqual(Environment.CurrentManagedThreadId, thread);
    }

    [Fact]
    public async Task AfterDispose_TheQueuedWriteFinishes_AndANewOneIsRefused()
    {
        var gate = new TaskCompletionSource();
        var writer = new IndexWriterThread("index-test");
        Task first = writer.Run(() => gate.Task);
        writer.Dispose();
        Task late = writer.Run(() => Task.CompletedTask);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => late).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(first.IsCompleted);
        gate.SetResult();
        await first.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
