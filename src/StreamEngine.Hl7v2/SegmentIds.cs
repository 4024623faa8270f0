using System.Collections.Concurrent;
using System.Text;

namespace StreamEngine.Hl7v2;

/// <summary>
/// Segment ids as strings without a new string per read: an id of three ASCII letters or digits (all a parse accepts,
/// Z-segments included) is looked up by its bytes and decoded once for the process. The table holds at most
/// 36^3 entries, each a few bytes. Anything else (a charset that does not keep ASCII as it is, a malformed id) is
/// decoded as before.
/// </summary>
internal static class SegmentIds
{
    private static readonly ConcurrentDictionary<int, string> Known = new();

    public static string Of(ReadOnlySpan<byte> id, Encoding encoding)
    {
        if (id.Length != 3 || !IsIdByte(id[0]) || !IsIdByte(id[1]) || !IsIdByte(id[2]) || (!encoding.IsSingleByte && encoding.CodePage != 65001))
        {
            return encoding.GetString(id);
        }

        int key = id[0] << 16 | id[1] << 8 | id[2];
        return Known.TryGetValue(key, out string? text) ? text : Known.GetOrAdd(key, Encoding.ASCII.GetString(id));
    }

    private static bool IsIdByte(byte b) => b is >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9';
}
