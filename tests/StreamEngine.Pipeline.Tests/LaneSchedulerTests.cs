using StreamEngine.Pipeline.Delivery;

namespace StreamEngine.Pipeline.Tests;

public sealed class LaneSchedulerTests
{
    // Starts every message that may start, one per lane.
    private static List<long> StartAll(LaneScheduler<string> lanes)
    {
        var started = new List<long>();
        while (lanes.TryStartLane(1) is { } lane)
        {
            started.Add(Assert.Single(lane).SequenceNr);
        }

        return started;
    }

    // A message started alone is done: released, and its lane ended.
    private static void Finish(LaneScheduler<string> lanes, long sequenceNr)
    {
        lanes.Release(sequenceNr);
        lanes.EndLane();
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
        Finish(lanes, 2);
        Assert.Empty(StartAll(lanes)); // b had nothing else; a2 still waits for a1
        Finish(lanes, 1);
        Assert.Equal([3], StartAll(lanes));
        Finish(lanes, 3);
        Assert.Equal([5], StartAll(lanes));
        Finish(lanes, 4);
        Finish(lanes, 5);
        Assert.Equal(0, lanes.Count);
    }

    [Fact]
    public void UnorderedMessages_StartAtOnce_AndHoldBackNoPatient()
    {
        // A replay that prepares ahead keeps the order itself: its messages wait for nothing, and a keyed message
        // added after them does not wait for them either.
        var lanes = new LaneScheduler<string>(8);
        lanes.AddUnordered(1, "a1");
        lanes.AddUnordered(2, "a2");
        lanes.AddUnordered(3, "a3");
        lanes.Add(4, ["a"], "a4");
        Assert.Equal([1, 2, 3, 4], StartAll(lanes));
        Assert.False(lanes.Holds(["b"]));
        Finish(lanes, 3);
        Finish(lanes, 1);
        Finish(lanes, 4);
        Finish(lanes, 2);
        Assert.Equal((0, 0), (lanes.Count, lanes.Running));
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

        var first = lanes.TryStartLane(8);
        Assert.Equal([1L, 2L, 4L], first!.Select(m => m.SequenceNr)); // 5 ready over 2 free lanes: 3, in journal order
        Assert.Equal([5L, 6L], lanes.TryStartLane(8)!.Select(m => m.SequenceNr));
        Assert.Null(lanes.TryStartLane(8)); // both lanes taken
        Assert.Equal(2, lanes.Running);

        lanes.Release(1); // a2 is ready now, but the lane stays taken until ended
        Assert.Null(lanes.TryStartLane(8));
        lanes.Release(2);
        lanes.Release(4);
        lanes.EndLane();
        Assert.Equal([(3L, "a2")], lanes.TryStartLane(1)!);
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
        Finish(lanes, 2);
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
        Finish(lanes, 1);
        Assert.Empty(StartAll(lanes)); // the merge still waits for b1
        Finish(lanes, 2);
        Assert.Equal([3], StartAll(lanes));
        Finish(lanes, 3);
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
        Finish(lanes, 2);
        Finish(lanes, 1);
        Assert.Equal([3], StartAll(lanes));
        Assert.Throws<InvalidOperationException>(() => lanes.Release(99));
    }
}
