using System.Collections.Frozen;
using Hl7.Fhir.Model;
using StreamEngine.Fhir;
using StreamEngine.Fhir.TriggerEvents;
using StreamEngine.Pipeline.Delivery;
using StreamEngine.Pipeline.Ingest;
using StreamEngine.TestKit;

namespace StreamEngine.Pipeline.Tests;

public sealed class NdjsonTargetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("se-target-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static MessageReceived Received(string controlId, string trigger = "A01") =>
        new(TestData.Message($@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^{trigger}|{controlId}|P|2.4", "PID|1||M1^^^R0B^MR"), DateTimeOffset.UtcNow, "PAS", "RX1", "ADT^" + trigger, controlId, "20260101", contentHash: 0);

    private sealed class ThrowingMapper : ITriggerEventMapper
    {
        public IReadOnlyCollection<string> Events { get; } = ["ADT^A99"];

        public void Map(MappingContext context) => throw new InvalidOperationException("mapper bug quoting SECRET");
    }

    [Fact]
    public void MapperThatThrows_QuarantinesThatMessage_AndTheNextOneIsDelivered()
    {
        var mapper = new MessageMapper(StreamEngine.Fhir.Profiles.TrustProfile.Default, [new AdtMapper(), new ThrowingMapper()]);
        using var target = new NdjsonTarget(Path.Combine(_dir, "out.ndjson"), "ingest/t/default", mapper);
        Assert.Empty(target.Open(0));

        DeliveryResult bad = target.Deliver(1, Received("BAD", "A99"));
        Assert.Equal(DeliveryResult.Quarantine("MappingException:InvalidOperationException"), bad); // the type, never the text
        Assert.Equal(DeliveryResult.Delivered, target.Deliver(2, Received("GOOD")));
        Assert.Equal(DeliveryResult.Quarantine("UnsupportedMessageType@MSH-9"), target.Deliver(3, Received("OTHER", "Z01")));
        Assert.Equal(DeliveryResult.Quarantine("Rejected:BadMsh"), target.Deliver(4, new FrameRejected("x"u8.ToArray(), DateTimeOffset.UtcNow, "BadMsh")));
        Assert.Equal(DeliveryResult.Quarantine("UnsupportedMessageType@MSH-9"), target.Classify(Received("OTHER", "Z01")));
        target.Flush(durable: true);

        string[] lines = File.ReadAllLines(Path.Combine(_dir, "out.ndjson"));
        Assert.Contains("\"GOOD\"", Assert.Single(lines), StringComparison.Ordinal);
    }

    [Fact]
    public void Reopen_ReportsEveryLineWrittenPastTheRecordedPosition_WhateverTheirOrder()
    {
        string file = Path.Combine(_dir, "out.ndjson");
        long position;
        using (var target = new NdjsonTarget(file, "ingest/t/default", new MessageMapper()))
        {
            Assert.Empty(target.Open(0));
            target.Deliver(5, Received("S5"));
            target.Flush(durable: true);
            position = target.Position; // what a watermark at 5 records
            target.Deliver(7, Received("S7"));
            target.Deliver(9, Received("S9"));
            target.Deliver(3, Received("S3")); // released from quarantine after 9 was written
        }

        using var again = new NdjsonTarget(file, "ingest/t/default", new MessageMapper());
        Assert.Equal([3L, 7, 9], again.Open(position).Order());
        using var otherStream = new NdjsonTarget(file, "ingest/other/default", new MessageMapper());
        Assert.Empty(otherStream.Open(0));
    }

    [Fact]
    public void Reopen_OfAShorterFileThanRecorded_ChecksItWhole()
    {
        string file = Path.Combine(_dir, "out.ndjson");
        using (var target = new NdjsonTarget(file, "ingest/t/default", new MessageMapper()))
        {
            target.Open(0);
            target.Deliver(2, Received("S2"));
        }

        using var again = new NdjsonTarget(file, "ingest/t/default", new MessageMapper());
        Assert.Equal([2L], again.Open(1 << 30)); // the file was replaced by a shorter one
    }

    [Fact]
    public void SecondaryUse_WithAnOptOutList_FiltersOptedOutPatients_AndFailsClosedWithoutAnNhsNumber()
    {
        string list = Path.Combine(_dir, "opt-out.txt");
        File.WriteAllText(list, "9434765919\n");
        var optOut = new StreamEngine.Policy.OptOutList(list);
        using var target = new NdjsonTarget(Path.Combine(_dir, "r.ndjson"), "ingest/t/default", new MessageMapper(), optOut: optOut);
        target.Open(0);
        MessageReceived With(string id, string pid) => new(TestData.Message($@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A01|{id}|P|2.4", pid),
            DateTimeOffset.UtcNow, "PAS", "RX1", "ADT^A01", id, "20260101", contentHash: 0);
        Assert.Equal(DeliveryResult.FilteredBecause("NationalDataOptOut"), target.Deliver(1, With("O", "PID|1||M1^^^R0B^MR~9434765919^^^NHS^NH")));
        Assert.Equal(DeliveryResult.Delivered, target.Deliver(2, With("S", "PID|1||M2^^^R0B^MR~9990000026^^^NHS^NH")));
        Assert.Equal(DeliveryResult.FilteredBecause("OptOutUncheckable:NoNhsNumber"), target.Deliver(3, With("N", "PID|1||M3^^^R0B^MR"))); // cannot be checked: not sent

        // A merge whose retired record (MRG-1) is the opted-out patient's: the message is theirs too, and is withheld.
        MessageReceived Merge(string id, string mrg) => new(TestData.Message($@"MSH|^~\&|PAS|RX1|R|RX1|20260101||ADT^A40^ADT_A39|{id}|P|2.4", "EVN|A40",
                "PID|1||M2^^^R0B^MR~9990000026^^^NHS^NH||B^A", mrg),
            DateTimeOffset.UtcNow, "PAS", "RX1", "ADT^A40^ADT_A39", id, "20260101", contentHash: 0);
        Assert.Equal(DeliveryResult.FilteredBecause("NationalDataOptOut"), target.Deliver(4, Merge("G1", "MRG|M1^^^R0B^MR~9434765919^^^NHS^NH")));
        Assert.Equal(DeliveryResult.Delivered, target.Deliver(5, Merge("G2", "MRG|M4^^^R0B^MR~9990000018^^^NHS^NH")));
    }

    [Fact]
    public void Filter_TakesOnlyTheNamedTypesEventsAndSenders_TheRestIsCountedAsFiltered()
    {
        var filter = new SinkFilter
        {
            MessageTypes = new[] { "ADT" }.ToFrozenSet(),
            Events = new[] { "ADT^A01", "ADT^A08" }.ToFrozenSet(),
            SendingFacilities = new[] { "RX1" }.ToFrozenSet(),
        };
        using var target = new NdjsonTarget(Path.Combine(_dir, "f.ndjson"), "ingest/t/default", new MessageMapper(), filter: filter);
        target.Open(0);
        Assert.Equal(DeliveryResult.Delivered, target.Deliver(1, Received("A", "A01")));
        Assert.Equal(DeliveryResult.Delivered, target.Deliver(2, Received("B", "A08")));
        Assert.Equal(DeliveryResult.Filtered, target.Deliver(3, Received("C", "A03")));
        var otherSender = new MessageReceived(TestData.Message(@"MSH|^~\&|PAS|RX9|R|RX1|20260101||ADT^A01|D|P|2.4", "PID|1||M1^^^R0B^MR"),
            DateTimeOffset.UtcNow, "PAS", "RX9", "ADT^A01", "D", "20260101", contentHash: 0);
        Assert.Equal(DeliveryResult.Filtered, target.Deliver(4, otherSender));
        Assert.Equal(DeliveryResult.Filtered, target.Classify(Received("E", "A03")));
        target.Flush(durable: true);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(_dir, "f.ndjson")).Length);
    }
}
