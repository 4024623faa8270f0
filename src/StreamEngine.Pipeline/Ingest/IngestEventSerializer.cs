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

    /// <inheritdoc />
    public override int Identifier => SerializerId;

    /// <inheritdoc />
    public override string Manifest(object o) => o switch
    {
        MessageReceived => MessageReceivedV2,
        IngestSnapshot => SnapshotV1,
        FrameRejected => FrameRejectedV1,
        WatermarkAdvanced => WatermarkV1,
        _ => throw new ArgumentException($"Cannot serialize {o.GetType().Name}.", nameof(o)),
    };

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        using var stream = new MemoryStream(obj is IIngestEvent e ? e.Raw.Length + 128 : 16);
        using (var w = new BinaryWriter(stream))
        {
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
                    w.Write(wm.SequenceNr);
                    break;
                default:
                    throw new ArgumentException($"Cannot serialize {obj.GetType().Name}.", nameof(obj));
            }
        }

        return stream.ToArray();
    }

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
