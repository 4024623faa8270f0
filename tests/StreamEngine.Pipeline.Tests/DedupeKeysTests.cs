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

    [Theory]
    [InlineData(1UL)]
    [InlineData(0x9E3779B97F4A7C15UL)]
    [InlineData(ulong.MaxValue)]
    public void AgreesWithAPlainList_OverRandomOperations_InNearlyFullTables(ulong seed)
    {
        // Up to ~3,000 contents in tables of 4,096: long probe runs that wrap around the end, deletions shifting runs
        // back, the ring growing and wrapping; keys reused by many contents. The model is a list, oldest first.
        var rnd = new Random((int)(seed % int.MaxValue));
        var keys = new DedupeKeys(seed);
        var model = new List<(long Key, long Content, long Seq, long Ticks)>();
        long seq = 0;
        for (int op = 0; op < 15_000; op++)
        {
            long key = rnd.Next(1_500), content = rnd.Next(6_000);
            DateTimeOffset at = T0.AddSeconds(op);
            int index = model.FindIndex(e => e.Key == key && e.Content == content);
            switch (rnd.Next(10))
            {
                case < 4 when index < 0:
                    keys.AddPending(key, content, at);
                    model.Add((key, content, 0, at.UtcTicks));
                    break;
                case < 6:
                    keys.Remember(key, content, ++seq, at);
                    if (index < 0)
                    {
                        model.Add((key, content, seq, at.UtcTicks));
                    }

                    break;
                case 6 when model.Count > 0:
                    int pending = rnd.Next(model.Count);
                    keys.Commit(model[pending].Key, model[pending].Content, ++seq);
                    model[pending] = model[pending] with { Seq = seq };
                    break;
                case 7 when model.Count > 0:
                    int removed = rnd.Next(model.Count);
                    keys.Remove(model[removed].Key, model[removed].Content);
                    model.RemoveAt(removed);
                    break;
                case 8:
                    int maxKeys = rnd.Next(2_000, 3_200);
                    DateTimeOffset cutoff = T0.AddSeconds(op - rnd.Next(1_000, 20_000));
                    keys.Evict(maxKeys, cutoff);
                    while (model.Count > 0 && (model.Count > maxKeys || model[0].Ticks < cutoff.UtcTicks) && model[0].Seq != 0)
                    {
                        model.RemoveAt(0);
                    }

                    break;
                case 9 when op % 50 == 0:
                    keys.EnsureCapacity(rnd.Next(3_000));
                    break;
            }

            Assert.Equal(model.Count, keys.Count);
            if (op % 1_000 == 999)
            {
                foreach ((long k, long c, long s, long _) in model)
                {
                    Assert.Equal(s, keys.Find(k, c));
                    Assert.True(keys.Knows(k));
                }

                for (int probe = 0; probe < 200; probe++)
                {
                    long k = rnd.Next(1_500), c = rnd.Next(6_000);
                    int known = model.FindIndex(e => e.Key == k && e.Content == c);
                    Assert.Equal(known < 0 ? null : model[known].Seq, keys.Find(k, c));
                    Assert.Equal(model.Any(e => e.Key == k), keys.Knows(k));
                }
            }
        }
    }
}
