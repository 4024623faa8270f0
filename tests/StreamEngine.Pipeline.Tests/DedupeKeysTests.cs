using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.Pipeline.Tests;

public sealed class DedupeKeysTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Pending_ThenCommitted_IsFoundWithItsSequence()
    {
        var keys = new DedupeKeys();
        keys.AddPending(1, 10, T0);
        Assert.Equal(0, keys.Find(1, 10));
        keys.Commit(1, 10, 7);
        Assert.Equal(7, keys.Find(1, 10));
        Assert.Null(keys.Find(1, 11));
        Assert.Null(keys.Find(2, 10));
    }

    [Fact]
    public void AReusedKey_KeepsEveryContent_AndRemovingOneKeepsTheOthers()
    {
        var keys = new DedupeKeys();
        keys.Remember(1, 10, 1, T0);
        keys.AddPending(1, 11, T0);
        keys.AddPending(1, 12, T0);
        Assert.True(keys.Knows(1));
        keys.Remove(1, 11); // a rejected write
        Assert.Equal((1L, (long?)null, 0L), (keys.Find(1, 10)!.Value, keys.Find(1, 11), keys.Find(1, 12)!.Value));
        keys.Remove(1, 12);
        keys.Remove(1, 10);
        Assert.False(keys.Knows(1));
        Assert.Equal(0, keys.Count);
    }

    [Fact]
    public void Eviction_GoesOldestFirst_ByCountAndByAge_AndNeverDropsAPendingWrite()
    {
        var keys = new DedupeKeys();
        for (int i = 1; i <= 10; i++)
        {
            keys.Remember(i, i, i, T0.AddMinutes(i));
        }

        keys.Evict(maxKeys: 7, cutoff: T0);
        Assert.Equal(7, keys.Count);
        Assert.Null(keys.Find(3, 3));
        Assert.Equal(4, keys.Find(4, 4));

        keys.Evict(maxKeys: 100, cutoff: T0.AddMinutes(6));
        Assert.Null(keys.Find(5, 5));
        Assert.Equal(6, keys.Find(6, 6));

        keys.AddPending(99, 99, T0); // old receipt time, but in flight
        keys.Evict(maxKeys: 100, cutoff: T0.AddYears(1));
        Assert.Equal(0, keys.Find(99, 99));
    }

    [Fact]
    public void Growing_PastTheInitialRing_KeepsEveryChain()
    {
        var keys = new DedupeKeys();
        for (int i = 0; i < 10_000; i++)
        {
            keys.Remember(i % 3_000, i, i + 1, T0); // 3,000 keys, each reused a few times
        }

        keys.Evict(maxKeys: 9_000, cutoff: T0); // the oldest 1,000 go
        Assert.Equal(9_000, keys.Count);
        Assert.Null(keys.Find(999, 999));
        for (int i = 1_000; i < 10_000; i++)
        {
            Assert.Equal(i + 1, keys.Find(i % 3_000, i));
        }

        for (int i = 10_000; i < 20_000; i++)
        {
            keys.Remember(i % 3_000, i, i + 1, T0); // wraps the ring after eviction freed its start
        }

        keys.Evict(maxKeys: 5_000, cutoff: T0);
        Assert.Equal(5_000, keys.Count);
        Assert.Equal(19_000, keys.Find(18_999 % 3_000, 18_999));
        Assert.Null(keys.Find(14_999 % 3_000, 14_999));
    }

    [Fact]
    public void MakingRoomAhead_OfAWrappedRing_KeepsEveryChain_AndItStillGrowsPastIt()
    {
        var keys = new DedupeKeys();
        for (int i = 0; i < 1_000; i++)
        {
            keys.Remember(i % 300, i, i + 1, T0);
        }

        keys.Evict(maxKeys: 500, cutoff: T0); // the ring's start is now mid-array
        for (int i = 1_000; i < 1_300; i++)
        {
            keys.Remember(i % 300, i, i + 1, T0); // wraps
        }

        keys.EnsureCapacity(5_000); // the start's load: room for the window at once
        for (int i = 1_300; i < 20_000; i++)
        {
            keys.Remember(i % 300, i, i + 1, T0); // past what was made room for: doubles as before
        }

        Assert.Equal(19_500, keys.Count);
        Assert.Null(keys.Find(499 % 300, 499));
        for (int i = 500; i < 20_000; i++)
        {
            Assert.Equal(i + 1, keys.Find(i % 300, i));
        }

        keys.Evict(maxKeys: 100, cutoff: T0);
        Assert.Equal(19_901, keys.Find(19_900 % 300, 19_900));
        Assert.Null(keys.Find(19_899 % 300, 19_899));
    }

    [Fact]
    public void ASenderThatReusesOneControlId_ForEverything_StaysCheapAndExact()
    {
        var keys = new DedupeKeys();
        for (int i = 1; i <= 50_000; i++)
        {
            keys.AddPending(42, i, T0);
            keys.Commit(42, i, i);
        }

        keys.Evict(maxKeys: 10_000, cutoff: T0);
        Assert.Equal(10_000, keys.Count);
        Assert.Null(keys.Find(42, 40_000));
        Assert.Equal(40_001, keys.Find(42, 40_001));
        Assert.True(keys.Knows(42));
    }
}
