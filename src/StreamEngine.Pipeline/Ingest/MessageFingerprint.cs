using System.IO.Hashing;
using System.Text;

namespace StreamEngine.Pipeline.Ingest;

/// <summary>
/// The two hashes dedupe runs on. The key hash identifies a message as its sender does (MSH-3, MSH-4, MSH-10); the
/// content hash says whether a resend is the same message: segment ends are normalised (CR, LF, CR LF and trailing
/// terminators are all one segment end) and MSH-7 is left out, because senders restamp it on a resend.
/// Neither hash is a secret: they hold no patient data that is not already in the journal payload.
/// </summary>
public static class MessageFingerprint
{
    /// <summary>64-bit hash of (MSH-3, MSH-4, MSH-10).</summary>
    public static long KeyHash(string sendingApplication, string sendingFacility, string controlId)
    {
        XxHash3 hash = Fresh();
        Append(hash, sendingApplication);
        Append(hash, sendingFacility);
        Append(hash, controlId);
        return (long)hash.GetCurrentHashAsUInt64();
    }

    /// <summary>
    /// The dedupe key of a rejected frame (no usable MSH, so no MSH-3/4/10): derived from its content hash, apart from
    /// every message key, never 0 (0 marks no key in the index).
    /// </summary>
    public static long RejectedKeyHash(long contentHash)
    {
        XxHash3 hash = Fresh();
        hash.Append("rejected-frame\0"u8);
        Span<byte> content = stackalloc byte[sizeof(long)];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(content, contentHash);
        hash.Append(content);
        long key = (long)hash.GetCurrentHashAsUInt64();
        return key == 0 ? 1 : key;
    }

    /// <summary>64-bit hash of the message with segment ends normalised and MSH-7 left out.</summary>
    public static long ContentHash(ReadOnlySpan<byte> raw)
    {
        XxHash3 hash = Fresh();
        bool first = true;
        while (!raw.IsEmpty)
        {
            int end = raw.IndexOfAny((byte)'\r', (byte)'\n');
            ReadOnlySpan<byte> segment = end < 0 ? raw : raw[..end];
            raw = end < 0 ? default : raw[(end + 1)..];
            if (segment.IsEmpty)
            {
                continue;
            }

            if (first && segment.Length > 3 && segment.StartsWith("MSH"u8))
            {
                AppendHeaderWithoutTime(hash, segment);
            }
            else
            {
                hash.Append(segment);
            }

            first = false;
            hash.Append("\r"u8);
        }

        return (long)hash.GetCurrentHashAsUInt64();
    }

    // One hasher per thread, reset for each use (an XxHash3 is ~600 bytes: two a message were a tenth of ingest's
    // allocations). Neither method calls the other or anything that hashes, so a use never overlaps another.
    [ThreadStatic]
    private static XxHash3? t_hash;

    private static XxHash3 Fresh()
    {
        XxHash3 hash = t_hash ??= new XxHash3();
        hash.Reset();
        return hash;
    }

    // MSH-1 is the separator at index 3, so MSH-7 starts after the sixth separator counted from there.
    private static void AppendHeaderWithoutTime(XxHash3 hash, ReadOnlySpan<byte> msh)
    {
        byte separator = msh[3];
        int seen = 0;
        int start = -1;
        for (int i = 3; i < msh.Length; i++)
        {
            if (msh[i] != separator)
            {
                continue;
            }

            seen++;
            if (seen == 6)
            {
                start = i + 1;
            }
            else if (seen == 7)
            {
                hash.Append(msh[..start]);
                hash.Append(msh[i..]);
                return;
            }
        }

        hash.Append(start < 0 ? msh : msh[..start]);
    }

    private static void Append(XxHash3 hash, string value)
    {
        Span<byte> buffer = stackalloc byte[256];
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        byte[]? rented = max > buffer.Length ? new byte[max] : null;
        Span<byte> target = rented ?? buffer;
        int written = Encoding.UTF8.GetBytes(value, target);
        hash.Append(target[..written]);
        hash.Append([0x1F]); // unit separator: ("AB","C") and ("A","BC") differ
    }
}
