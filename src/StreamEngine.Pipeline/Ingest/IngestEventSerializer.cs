using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using StreamEngine.Pipeline.Delivery;

namespace StreamEngine.Pipeline.Ingest;

/// <summary>
/// Explicit, versioned binary serialization of journal events: raw HL7 stays bytes, strings are length-prefixed
/// UTF-8. The manifest names the type and schema version; a new version adds a manifest and keeps reading the old.
/// </summary>
public sealed class IngestEventSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Serializer id, unique in the actor system (Akka reserves 0-40).</summary>
    public const int SerializerId = 7301;

    internal const string MessageReceivedV1 = "MessageReceived.v1";
    internal const string MessageReceivedV2 = "MessageReceived.v2";
    internal const string SnapshotV1 = "IngestSnapshot.v1";
    internal const string FrameRejectedV1 = "FrameRejected.v1";
    internal const string WatermarkV1 = "WatermarkAdvanced.v1";
    internal const string WatermarkV2 = "WatermarkAdvanced.v2";
    internal const string WatermarkV3 = "WatermarkAdvanced.v3";
    internal const string WatermarkV4 = "WatermarkAdvanced.v4";
    internal const string QuarantinedV1 = "MessageQuarantined.v1";
    internal const string ParkedV1 = "MessageParked.v1";
    internal const string ResolvedV1 = "QuarantineResolved.v1";
    internal const string SinkSnapshotV1 = "SinkSnapshot.v1";
    internal const string SinkSnapshotV2 = "SinkSnapshot.v2";
    internal const string SinkSnapshotV3 = "SinkSnapshot.v3";
    internal const string SinkSnapshotV4 = "SinkSnapshot.v4";
    internal const string ReplayStartedV1 = "ReplayStarted.v1";
    internal const string ReplayEndedV1 = "ReplayEnded.v1";
    internal const string SinkSnapshotV5 = "SinkSnapshot.v5";
    internal const string ReleasingV1 = "QuarantineReleasing.v1";
    internal const string ParkedReleasedV1 = "ParkedReleased.v1";

    /// <inheritdoc />
    public override int Identifier => SerializerId;

    /// <inheritdoc />
    public override string Manifest(object o) => o switch
    {
        MessageReceived => MessageReceivedV2,
        IngestSnapshot => SnapshotV1,
        FrameRejected => FrameRejectedV1,
        WatermarkAdvanced => WatermarkV4,
        MessageQuarantined => QuarantinedV1,
        MessageParked => ParkedV1,
        QuarantineResolved => ResolvedV1,
        SinkSnapshot => SinkSnapshotV5,
        QuarantineReleasing => ReleasingV1,
        ParkedReleased => ParkedReleasedV1,
        ReplayStarted => ReplayStartedV1,
        ReplayEnded => ReplayEndedV1,
        _ => throw new ArgumentException($"Cannot serialize {o.GetType().Name}.", nameof(o)),
    };

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        // One buffer per thread, reused: the event is written into it and copied out once at its exact size (a
        // stream sized per event and then copied cost two arrays a message). Taken while in use, so a nested call (a
        // snapshot's parts) writes into a buffer of its own; one grown past MaxKeptBuffer is left to the collector.
        BinaryWriter w = t_writer ?? new BinaryWriter(new MemoryStream(1024));
        t_writer = null;
        var stream = (MemoryStream)w.BaseStream;
        stream.SetLength(0);
        switch (obj)
        {
            case MessageReceived m:
                WriteTime(w, m.ReceivedAt);
                w.Write(m.SendingApplication);
                w.Write(m.SendingFacility);
                w.Write(m.MessageType);
                w.Write(m.ControlId);
                w.Write(m.MessageTime);
                w.Write(m.ContentHash);
                w.Write(m.PatientKeyHash);
                w.Write(m.PriorPatientKeyHash);
                WriteBytes(w, m.Raw.Span);
                break;
            case FrameRejected r:
                WriteTime(w, r.ReceivedAt);
                w.Write(r.Reason);
                WriteBytes(w, r.Raw.Span);
                break;
            case IngestSnapshot snapshot:
                w.Write(snapshot.IndexedUpTo);
                break;
            case WatermarkAdvanced wm:
                SinkCounts counts = wm.Counts ?? SinkCounts.Zero;
                w.Write(wm.SequenceNr);
                w.Write(wm.Origin);
                w.Write(counts.Delivered);
                w.Write(counts.Filtered);
                w.Write(counts.Quarantined);
                w.Write(counts.Parked);
                w.Write(wm.OutputPosition);
                w.Write(wm.SettledAbove.Count);
                foreach (SequenceRange range in wm.SettledAbove)
                {
                    w.Write(range.From);
                    w.Write(range.To);
                }

                break;
            case MessageQuarantined q:
                w.Write(q.SequenceNr);
                w.Write(q.Reason);
                w.Write(q.PatientKeys.Count);
                foreach (string key in q.PatientKeys)
                {
                    w.Write(key);
                }

                WriteTime(w, q.At);
                WriteNested(w, q.Message);
                break;
            case MessageParked p:
                w.Write(p.SequenceNr);
                w.Write(p.BehindSequenceNr);
                WriteNested(w, p.Message);
                break;
            case SinkSnapshot snap:
                WriteBytes(w, ToBinary(snap.Watermark));
                w.Write(snap.Quarantined.Count);
                foreach (MessageQuarantined q in snap.Quarantined)
                {
                    WriteBytes(w, ToBinary(q));
                }

                w.Write(snap.Parked.Count);
                foreach (MessageParked p in snap.Parked)
                {
                    WriteBytes(w, ToBinary(p));
                }

                w.Write(snap.Resolved.Count);
                foreach (QuarantineResolved resolved in snap.Resolved)
                {
                    WriteBytes(w, ToBinary(resolved));
                }

                w.Write(snap.Replaying is not null);
                if (snap.Replaying is { } replaying)
                {
                    WriteBytes(w, ToBinary(replaying));
                }

                w.Write(snap.Releasing.Count);
                foreach (QuarantineReleasing releasing in snap.Releasing)
                {
                    WriteBytes(w, ToBinary(releasing));
                }

                break;
            case QuarantineReleasing releasing:
                WriteDecision(w, releasing.SequenceNr, releasing.Action, releasing.Note, releasing.At);
                break;
            case ParkedReleased released:
                w.Write(released.SequenceNr);
                w.Write(released.BehindSequenceNr);
                break;
            case ReplayStarted started:
                w.Write(started.ReplayId);
                w.Write(started.FromSequenceNr ?? -1);
                w.Write(started.Since is null ? long.MinValue : started.Since.Value.UtcTicks);
                w.Write(started.MessageType ?? string.Empty);
                w.Write(started.Rate ?? -1);
                break;
            case ReplayEnded ended:
                w.Write(ended.ReplayId);
                break;
            case QuarantineResolved resolved:
                WriteDecision(w, resolved.SequenceNr, resolved.Action, resolved.Note, resolved.At);
                break;
            default:
                throw new ArgumentException($"Cannot serialize {obj.GetType().Name}.", nameof(obj));
        }

        w.Flush();
        byte[] bytes = stream.ToArray();
        if (stream.Capacity <= MaxKeptBuffer)
        {
            t_writer = w;
        }

        return bytes;
    }

    private const int MaxKeptBuffer = 64 * 1024;

    [ThreadStatic]
    private static BinaryWriter? t_writer;

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest)
    {
        using var r = new BinaryReader(new MemoryStream(bytes, writable: false));
        return manifest switch
        {
            MessageReceivedV1 => ReadMessageReceived(r, version: 1),
            MessageReceivedV2 => ReadMessageReceived(r, version: 2),
            SnapshotV1 => new IngestSnapshot(r.ReadInt64()),
            FrameRejectedV1 => new FrameRejected(receivedAt: ReadTime(r), reason: r.ReadString(), raw: ReadBytes(r)),
            WatermarkV1 => new WatermarkAdvanced(r.ReadInt64()),
            WatermarkV2 => new WatermarkAdvanced(r.ReadInt64(), r.ReadInt64(), new SinkCounts(r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64())),
            WatermarkV3 => new WatermarkAdvanced(r.ReadInt64(), r.ReadInt64(), new SinkCounts(r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64()), r.ReadInt64()),
            WatermarkV4 => ReadWatermarkV4(r),
            QuarantinedV1 => ReadQuarantined(r),
            ParkedV1 => new MessageParked(r.ReadInt64(), r.ReadInt64(), ReadNested(r)),
            SinkSnapshotV1 => ReadSinkSnapshot(r, version: 1),
            SinkSnapshotV2 => ReadSinkSnapshot(r, version: 2),
            SinkSnapshotV3 => ReadSinkSnapshot(r, version: 3),
            SinkSnapshotV4 => ReadSinkSnapshot(r, version: 4),
            SinkSnapshotV5 => ReadSinkSnapshot(r, version: 5),
            ReleasingV1 => new QuarantineReleasing(r.ReadInt64(), r.ReadString(), r.ReadString(), ReadTime(r)),
            ParkedReleasedV1 => new ParkedReleased(r.ReadInt64(), r.ReadInt64()),
            ReplayStartedV1 => ReadReplayStarted(r),
            ReplayEndedV1 => new ReplayEnded(r.ReadString()),
            ResolvedV1 => new QuarantineResolved(r.ReadInt64(), r.ReadString(), r.ReadString(), ReadTime(r)),
            _ => throw new SerializationException($"Unknown event manifest '{manifest}'."),
        };
    }

    // v1 had no hashes: the content hash is computed from the payload; the patient key hash stays empty.
    private static MessageReceived ReadMessageReceived(BinaryReader r, int version)
    {
        DateTimeOffset receivedAt = ReadTime(r);
        string app = r.ReadString();
        string facility = r.ReadString();
        string type = r.ReadString();
        string controlId = r.ReadString();
        string time = r.ReadString();
        if (version == 1)
        {
            byte[] raw = ReadBytes(r);
            return new MessageReceived(raw, receivedAt, app, facility, type, controlId, time, MessageFingerprint.ContentHash(raw));
        }

        long contentHash = r.ReadInt64();
        string patient = r.ReadString();
        string prior = r.ReadString();
        return new MessageReceived(ReadBytes(r), receivedAt, app, facility, type, controlId, time, contentHash, patient, prior);
    }

    // v4 adds the ranges settled above the low mark (lanes finish out of order).
    private static WatermarkAdvanced ReadWatermarkV4(BinaryReader r)
    {
        var watermark = new WatermarkAdvanced(r.ReadInt64(), r.ReadInt64(), new SinkCounts(r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64()), r.ReadInt64());
        var ranges = new SequenceRange[r.ReadInt32()];
        for (int i = 0; i < ranges.Length; i++)
        {
            ranges[i] = new SequenceRange(r.ReadInt64(), r.ReadInt64());
        }

        return watermark with { SettledAbove = ranges };
    }

    private SinkSnapshot ReadSinkSnapshot(BinaryReader r, int version)
    {
        var watermark = (WatermarkAdvanced)FromBinary(ReadBytes(r), version switch { 1 => WatermarkV2, 2 => WatermarkV3, _ => WatermarkV4 });
        var quarantined = new MessageQuarantined[r.ReadInt32()];
        for (int i = 0; i < quarantined.Length; i++)
        {
            quarantined[i] = (MessageQuarantined)FromBinary(ReadBytes(r), QuarantinedV1);
        }

        var parked = new MessageParked[r.ReadInt32()];
        for (int i = 0; i < parked.Length; i++)
        {
            parked[i] = (MessageParked)FromBinary(ReadBytes(r), ParkedV1);
        }

        var resolved = new QuarantineResolved[version == 1 ? 0 : r.ReadInt32()];
        for (int i = 0; i < resolved.Length; i++)
        {
            resolved[i] = (QuarantineResolved)FromBinary(ReadBytes(r), ResolvedV1);
        }

        ReplayStarted? replaying = version >= 4 && r.ReadBoolean() ? (ReplayStarted)FromBinary(ReadBytes(r), ReplayStartedV1) : null;
        var releasing = new QuarantineReleasing[version >= 5 ? r.ReadInt32() : 0];
        for (int i = 0; i < releasing.Length; i++)
        {
            releasing[i] = (QuarantineReleasing)FromBinary(ReadBytes(r), ReleasingV1);
        }

        return new SinkSnapshot(watermark, quarantined, parked, resolved) { Replaying = replaying, Releasing = releasing };
    }

    // An operator's decision on a quarantined message (under way or done): the same fields, the same layout.
    private static void WriteDecision(BinaryWriter w, long sequenceNr, string action, string note, DateTimeOffset at)
    {
        w.Write(sequenceNr);
        w.Write(action);
        w.Write(note);
        WriteTime(w, at);
    }

    private static ReplayStarted ReadReplayStarted(BinaryReader r)
    {
        string id = r.ReadString();
        long from = r.ReadInt64();
        long since = r.ReadInt64();
        string type = r.ReadString();
        double rate = r.ReadDouble();
        return new ReplayStarted(id, from < 0 ? null : from, since == long.MinValue ? null : new DateTimeOffset(since, TimeSpan.Zero),
            type.Length == 0 ? null : type, rate < 0 ? null : rate);
    }

    private MessageQuarantined ReadQuarantined(BinaryReader r)
    {
        long seq = r.ReadInt64();
        string reason = r.ReadString();
        var keys = new string[r.ReadInt32()];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = r.ReadString();
        }

        DateTimeOffset at = ReadTime(r);
        return new MessageQuarantined(seq, reason, keys, ReadNested(r), at);
    }

    // A journal event inside a sink event: its manifest, then its bytes.
    private void WriteNested(BinaryWriter w, IIngestEvent e)
    {
        w.Write(Manifest(e));
        WriteBytes(w, ToBinary(e));
    }

    private IIngestEvent ReadNested(BinaryReader r)
    {
        string manifest = r.ReadString();
        return (IIngestEvent)FromBinary(ReadBytes(r), manifest);
    }

    private static void WriteTime(BinaryWriter w, DateTimeOffset t)
    {
        w.Write(t.UtcTicks);
        w.Write((short)t.Offset.TotalMinutes);
    }

    private static DateTimeOffset ReadTime(BinaryReader r)
    {
        long ticks = r.ReadInt64();
        short offset = r.ReadInt16();
        return new DateTimeOffset(ticks, TimeSpan.Zero).ToOffset(TimeSpan.FromMinutes(offset));
    }

    private static void WriteBytes(BinaryWriter w, ReadOnlySpan<byte> bytes)
    {
        w.Write7BitEncodedInt(bytes.Length);
        w.Write(bytes);
    }

    private static byte[] ReadBytes(BinaryReader r)
    {
        int length = r.Read7BitEncodedInt();
        byte[] bytes = r.ReadBytes(length);
        if (bytes.Length != length)
        {
            throw new SerializationException("Truncated event payload.");
        }

        return bytes;
    }
}
