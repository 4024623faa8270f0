using System.Globalization;

namespace StreamEngine.Pipeline.Delivery;

/// <summary>
/// The identity of one delivery, stamped on each Bundle as <c>meta.source</c>:
/// <c>streamengine:{stream persistence id}#{sequence}</c>, and <c>...#{sequence}@{replay id}</c> for a line a replay wrote.
/// A sink recognises what it already wrote by it.
/// </summary>
public static class DeliveryId
{
    /// <summary>Formats the id of a delivery.</summary>
    public static string Format(string streamId, long sequenceNr, string? replayId = null) => replayId is null
        ? string.Create(CultureInfo.InvariantCulture, $"streamengine:{streamId}#{sequenceNr}")
        : string.Create(CultureInfo.InvariantCulture, $"streamengine:{streamId}#{sequenceNr}@{replayId}");

    /// <summary>The sequence number of an id of this stream; 0 when the id is absent or of another stream.</summary>
    public static long SequenceOf(string? id, string streamId)
    {
        string prefix = $"streamengine:{streamId}#";
        if (id is null || !id.StartsWith(prefix, StringComparison.Ordinal))
        {
            return 0;
        }

        ReadOnlySpan<char> rest = id.AsSpan(prefix.Length);
        int at = rest.IndexOf('@');
        return long.TryParse(at < 0 ? rest : rest[..at], NumberStyles.None, CultureInfo.InvariantCulture, out long seq)
            ? seq
            : 0;
    }
}
