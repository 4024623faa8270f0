using System.Collections.Concurrent;
using System.Text;

namespace StreamEngine.Hl7v2;

/// <summary>
/// Segment ids as strings without a new string per read: an id of three bytes (every id a parse accepts, Z-segments
/// included, is three ASCII letters or digits) is decoded once per charset for the process and looked up by its bytes
/// after that. The table is bounded by the ids a parse accepts (36^3 per charset) and holds no message content.
/// Anything else is decoded as before.
/// </summary>
internal static class SegmentIds
{
    private static readonly ConcurrentDictionary<(int CodePage, int Id), string> Known = new();

    public static string Of(ReadOnlySpan<byte> id, Encoding encoding)
    {
        if (id.Length != 3 || !IsIdByte(id[0]) || !IsIdByte(id[1]) || !IsIdByte(id[2]))
        {
            return encoding.GetString(id);
        }

        var key = (encoding.CodePage, id[0] << 16 | id[1] << 8 | id[2]);
        return Known.TryGetValue(key, out string? text) ? text : Known.GetOrAdd(key, encoding.GetString(id));
    }

    private static bool IsIdByte(byte b) => b is >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9';
}
