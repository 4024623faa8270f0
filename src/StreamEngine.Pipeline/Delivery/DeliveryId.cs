using System.Globalization;

namespace StreamEngine.Pipeline.Delivery;

/// <summary>
/// The identity of one delivery, stamped on each Bundle as <c>meta.source</c>:
/// <c>streamengine:{stream persistence id}#{sequence}</c>. A sink recognises what it already wrote by it.
/// </summary>
public static class DeliveryId
{
    /// <summary>Formats the id of a delivery.</summary>
    public static string Format(string streamId, long sequenceNr) =>
        string.Create(CultureInfo.InvariantCulture, $"streamengine:{streamId}#{sequenceNr}");

    /// <summary>The sequence number of an id of this stream; 0 when the id is absent or of another stream.</summary>
    public static long SequenceOf(string? id, string streamId)
    {
        string prefix = $"streamengine:{streamId}#";
        return id is not null && id.StartsWith(prefix, StringComparison.Ordinal)
            && long.TryParse(id.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out long seq)
            ? seq
            : 0;
    }
}
