using StreamEngine.Pipeline.Delivery;

namespace StreamEngine.Pipeline.Tests;

public sealed class LaneSchedulerTests
{
    private static List<long> StartAll(LaneScheduler<string> lanes)
    {
        var started = new List<long>();
        while (lanes.TryStart(out long seq, out _))
        {
            started.Add(seq);
        }

        return started;
    }

    [Fact]
    public void DifferentPatients_RunTogether_OnePatientsMessages_OneAfterAnother()
    {
        var lanes = new LaneScheduler<string>(8);
        lanes.Add(1, ["a"], "a1");
        lanes.Add(2, ["b"], "b1");
        lanes.Add(3, ["a"], "a2");
        lanes.Add(4, ["c"], "c1");
        lanes.Add(5, ["a"], "a3");
        Assert.Equal([1, 2, 4], StartAll(lanes));
        lanes.Finish(2);
        Assert.Empty(StartAll(lanes)); // b had nothing else; a2 still waits for a1
        lanes.Finish(1);
        Assert.Equal([3], StartAll(lanes));
        lanes.Finish(3);
        Assert.Equal([5], StartAll(lanes));
        lanes.Finish(4);
        lanes.Finish(5);
        Assert.Equal(0, lanes.Count);
    }

    [Fact]
    public void ALane_TakesAFairShareOfTheReadyMessages_OfDifferentPatients_AndHoldsOneLaneUntilEnded()
    {
        var lanes = new LaneScheduler<string>(2);
        lanes.Add(1, ["a"], "a1");
        lanes.Add(2, ["b"], "b1");
        lanes.Add(3, ["a"], "a2"); // waits for a1: never in a lane with it
        lanes.Add(4, ["c"], "c1");
        lanes.Add(5, ["d"], "d1");
        lanes.Add(6, ["e"], "e1");

        var first = new List<(long, string)>();
        Assert.True(lanes.TryStartLane(8, first));
        Assert.Equal([1L, 2L, 4L], first.Select(m => m.Item1)); // 5 ready over 2 free lanes: 3, in journal order
        var second = new List<(long, string)>();
        Assert.True(lanes.TryStartLane(8, second));
        Assert.Equal([5L, 6L], second.Select(m => m.Item1));
        Assert.False(lanes.TryStartLane(8, new List<(long, string)>())); // both lanes taken
        Assert.Equal(2, lanes.Running);

        lanes.Release(1); // a2 is ready now, but the lane stays taken until ended
        Assert.False(lanes.TryStartLane(8, new List<(long, string)>()));
        lanes.Release(2);
        lanes.Release(4);
        lanes.EndLane();
        var third = new List<(long, string)>();
        Assert.True(lanes.TryStartLane(1, third));
        Assert.Equal([(3L, "a2")], third);
    }

    [Fact]
    public void NoMoreThanTheLanes_RunAtOnce()
    {
        var lanes = new LaneScheduler<string>(2);
        for (int i = 1; i <= 5; i++)
        {
            lanes.Add(i, [$"p{i}"], "x");
        }

        Assert.Equal([1, 2], StartAll(lanes));
        Assert.Equal(2, lanes.Running);
        lanes.Finish(2);
        Assert.Equal([3], StartAll(lanes));
        Assert.Equal(4, lanes.Count);
    }

    [Fact]
    public void AMerge_WaitsForBothPatients_AndHoldsBoth_UntilItIsDone()
    {
        var lanes = new LaneScheduler<string>(8);
        lanes.Add(1, ["a"], "a1");
        lanes.Add(2, ["b"], "b1");
        lanes.Add(3, ["a", "b"], "merge");
        lanes.Add(4, ["b"], "b2");
        lanes.Add(5, ["a"], "a2");
        lanes.Add(6, ["c"], "c1");
        Assert.Equal([1, 2, 6], StartAll(lanes));
        lanes.Finish(1);
        Assert.Empty(StartAll(lanes)); // the merge still waits for b1
        lanes.Finish(2);
        Assert.Equal([3], StartAll(lanes));
        lanes.Finish(3);
        Assert.Equal([4, 5], StartAll(lanes).Order());
    }

    [Fact]
    public void MessagesWithoutAPatient_KeepTheirOrderAmongThemselves_AndDuplicateKeysCountOnce()
    {
        var lanes = new LaneScheduler<string>(8);
        lanes.Add(1, [], "x1");
        lanes.Add(2, ["a", "a"], "a1");
        lanes.Add(3, [], "x2");
        Assert.Equal([1, 2], StartAll(lanes));
        lanes.Finish(2);
        lanes.Finish(1);
        Assert.Equal([3], StartAll(lanes));
        Assert.Throws<InvalidOperationException>(() => lanes.Finish(99));
    }
}
