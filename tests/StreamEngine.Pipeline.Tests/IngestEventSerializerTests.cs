using Akka.Serialization;
using StreamEngine.Pipeline.Delivery;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.Pipeline.Tests;

public sealed class IngestEventSerializerTests() : Akka.TestKit.Xunit2.TestKit(PipelineTestConfig.Create())
{
    private static readonly DateTimeOffset Received = new(2026, 11, 30, 8, 15, 0, TimeSpan.FromHours(1));

    [Fact]
    public void MessageReceived_RoundTrips_ThroughTheBoundSerializer()
    {
        var original = new MessageReceived("MSH|^~\\&|A\rPID|1\r"u8.ToArray(), Received, "PAS", "RX1", "ADT^A01^ADT_A01", "C1", "20261130", 0x1234_5678_9ABC_DEF0, "patienthash", "priorhash");
        Serializer serializer = Sys.Serialization.FindSerializerFor(original);
        Assert.IsType<IngestEventSerializer>(serializer);
        var copy = (MessageReceived)Sys.Serialization.Deserialize(serializer.ToBinary(original), serializer.Identifier, Akka.Serialization.Serialization.ManifestFor(serializer, original));
        Assert.Equal(original.Raw.ToArray(), copy.Raw.ToArray());
        Assert.Equal(original.ReceivedAt, copy.ReceivedAt);
        Assert.Equal(original.ReceivedAt.Offset, copy.ReceivedAt.Offset);
        Assert.Equal((original.SendingApplication, original.SendingFacility, original.MessageType, original.ControlId, original.MessageTime),
            (copy.SendingApplication, copy.SendingFacility, copy.MessageType, copy.ControlId, copy.MessageTime));
        Assert.Equal((original.ContentHash, original.PatientKeyHash, original.PriorPatientKeyHash), (copy.ContentHash, copy.PatientKeyHash, copy.PriorPatientKeyHash));
    }

    [Fact]
    public void FrameRejectedAndWatermark_RoundTrip()
    {
        var serializer = new IngestEventSerializer((Akka.Actor.ExtendedActorSystem)Sys);
        var rejected = (FrameRejected)serializer.FromBinary(serializer.ToBinary(new FrameRejected(new byte[] { 1, 2, 3 }, Received, "BadMsh")), serializer.Manifest(new FrameRejected(Array.Empty<byte>(), Received, "x")));
        Assert.Equal(new byte[] { 1, 2, 3 }, rejected.Raw.ToArray());
        Assert.Equal("BadMsh", rejected.Reason);
        var watermark = (WatermarkAdvanced)serializer.FromBinary(serializer.ToBinary(new WatermarkAdvanced(42)), "WatermarkAdvanced.v1");
        Assert.Equal(42, watermark.SequenceNr);
    }

    [Fact]
    public void Version1Bytes_WrittenByThisSchema_StayReadable()
    {
        // Frozen bytes of a MessageReceived.v1: a later schema version must keep reading them.
        byte[] frozen = Convert.FromHexString("00B256A5B14EDF083C000350415303525831074144545E4130310243310832303236313133300348690D");
        var serializer = new IngestEventSerializer((Akka.Actor.ExtendedActorSystem)Sys);
        var e = (MessageReceived)serializer.FromBinary(frozen, "MessageReceived.v1");
        Assert.Equal("PAS", e.SendingApplication);
        Assert.Equal("ADT^A01", e.MessageType);
        Assert.Equal("Hi\r"u8.ToArray(), e.Raw.ToArray());
        Assert.Equal(TimeSpan.FromHours(1), e.ReceivedAt.Offset);
        Assert.Equal(MessageFingerprint.ContentHash("Hi\r"u8), e.ContentHash); // v1 had no hash: computed on read
        Assert.Equal(string.Empty, e.PatientKeyHash);
    }

    [Fact]
    public void SinkEvents_RoundTrip_WithTheirOwnCopyOfTheMessage()
    {
        var serializer = new IngestEventSerializer((Akka.Actor.ExtendedActorSystem)Sys);
        var message = new MessageReceived("MSH|^~\\&|A\rPID|1\r"u8.ToArray(), Received, "PAS", "RX1", "ADT^A01", "C1", "2026", 42, "p", "");
        T RoundTrip<T>(T o) where T : class => (T)serializer.FromBinary(serializer.ToBinary(o), serializer.Manifest(o));

        MessageQuarantined q = RoundTrip(new MessageQuarantined(5, "MissingPid", ["a", "b"], message, Received));
        Assert.Equal((5L, "MissingPid", Received), (q.SequenceNr, q.Reason, q.At));
        Assert.Equal(["a", "b"], q.PatientKeys);
        Assert.Equal(message.Raw.ToArray(), q.Message.Raw.ToArray());
        MessageParked p = RoundTrip(new MessageParked(6, 5, new FrameRejected(new byte[] { 1 }, Received, "BadMsh")));
        Assert.Equal((6L, 5L, "BadMsh"), (p.SequenceNr, p.BehindSequenceNr, ((FrameRejected)p.Message).Reason));
        Assert.Equal(new QuarantineResolved(5, "skipped", "why", Received), RoundTrip(new QuarantineResolved(5, "skipped", "why", Received)));
        WatermarkAdvanced w = RoundTrip(new WatermarkAdvanced(9, 2, new SinkCounts(1, 2, 3, 4)));
        Assert.Equal((9L, 2L, new SinkCounts(1, 2, 3, 4)), (w.SequenceNr, w.Origin, w.Counts));
    }

    [Fact]
    public void Watermark_KeepsTheRangesSettledAboveItsLowMark_AndVersion3StaysReadable()
    {
        var serializer = new IngestEventSerializer((Akka.Actor.ExtendedActorSystem)Sys);
        var original = new WatermarkAdvanced(9, 2, new SinkCounts(1, 2, 3, 4), 77) { SettledAbove = [new(11, 12), new(15, 15)] };
        Assert.Equal("WatermarkAdvanced.v4", serializer.Manifest(original));
        var copy = (WatermarkAdvanced)serializer.FromBinary(serializer.ToBinary(original), serializer.Manifest(original));
        Assert.Equal((9L, 2L, new SinkCounts(1, 2, 3, 4), 77L), (copy.SequenceNr, copy.Origin, copy.Counts, copy.OutputPosition));
        Assert.Equal([new SequenceRange(11, 12), new SequenceRange(15, 15)], copy.SettledAbove);

        // v3 (before lanes): the same fields without ranges, written by the previous schema.
        using var v3 = new MemoryStream();
        using (var w = new BinaryWriter(v3))
        {
            foreach (long value in new long[] { 9, 2, 1, 2, 3, 4, 77 })
            {
                w.Write(value);
            }
        }

        var old = (WatermarkAdvanced)serializer.FromBinary(v3.ToArray(), "WatermarkAdvanced.v3");
        Assert.Equal((9L, 77L), (old.SequenceNr, old.OutputPosition));
        Assert.Empty(old.SettledAbove);
        var snapshot = new SinkSnapshot(original, [], [], []);
        Assert.Equal([new SequenceRange(11, 12), new SequenceRange(15, 15)],
            ((SinkSnapshot)serializer.FromBinary(serializer.ToBinary(snapshot), serializer.Manifest(snapshot))).Watermark.SettledAbove);
        Assert.Equal([new SequenceRange(3, 5), new SequenceRange(8, 8)], SequenceRange.Of(new SortedSet<long> { 3, 4, 5, 8 }));
    }

    [Fact]
    public void ReplayJournaling_RoundTrips_AndASnapshotCarriesTheReplayUnderWay()
    {
        var serializer = new IngestEventSerializer((Akka.Actor.ExtendedActorSystem)Sys);
        T RoundTrip<T>(T e) where T : class => (T)serializer.FromBinary(serializer.ToBinary(e), serializer.Manifest(e));
        var full = new ReplayStarted("r1", 5, Received, "ADT^A08", 250.5);
        Assert.Equal(full with { Since = Received.ToUniversalTime() }, RoundTrip(full));
        var bare = new ReplayStarted("r2", null, null, null, null);
        Assert.Equal(bare, RoundTrip(bare));
        Assert.Equal(new ReplayEnded("r1"), RoundTrip(new ReplayEnded("r1")));
        var snapshot = new SinkSnapshot(new WatermarkAdvanced(3), [], [], []) { Replaying = bare };
        Assert.Equal(bare, RoundTrip(snapshot).Replaying);
        Assert.Null(RoundTrip(new SinkSnapshot(new WatermarkAdvanced(3), [], [], [])).Replaying);
    }

    [Fact]
    public void ReleaseProgress_RoundTrips_ASnapshotCarriesIt_AndVersion4SnapshotsStayReadable()
    {
        var serializer = new IngestEventSerializer((Akka.Actor.ExtendedActorSystem)Sys);
        T RoundTrip<T>(T e) where T : class => (T)serializer.FromBinary(serializer.ToBinary(e), serializer.Manifest(e));
        var releasing = new QuarantineReleasing(7, QuarantineResolved.Retried, "retried", Received);
        Assert.Equal(releasing with { At = Received.ToUniversalTime() }, RoundTrip(releasing));
        Assert.Equal(new ParkedReleased(9, 7), RoundTrip(new ParkedReleased(9, 7)));
        var snapshot = new SinkSnapshot(new WatermarkAdvanced(3), [], [], []) { Releasing = [releasing] };
        Assert.Equal("SinkSnapshot.v5", serializer.Manifest(snapshot));
        Assert.Equal(7, Assert.Single(RoundTrip(snapshot).Releasing).SequenceNr);

        // A v4 snapshot is a v5 one without the count of releases at its end.
        var bare = new SinkSnapshot(new WatermarkAdvanced(3), [], [], []) { Replaying = new ReplayStarted("r1", 1, null, null, null) };
        byte[] v5 = serializer.ToBinary(bare);
        var v4 = (SinkSnapshot)serializer.FromBinary(v5[..^4], "SinkSnapshot.v4");
        Assert.Empty(v4.Releasing);
        Assert.Equal("r1", v4.Replaying!.ReplayId);
    }

    [Fact]
    public void UnknownManifest_Throws()
    {
        var serializer = new IngestEventSerializer((Akka.Actor.ExtendedActorSystem)Sys);
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary([], "MessageReceived.v99"));
    }

    [Fact]
    public void ToString_NeverPrintsContent()
    {
        var e = new MessageReceived("MSH|SECRET"u8.ToArray(), Received, "PAS", "RX1", "ADT^A01", "C1", "2026", 0);
        Assert.DoesNotContain("SECRET", e.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET", new Append(1, e).ToString(), StringComparison.Ordinal);
    }
}
