using System.Collections.Frozen;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.Pipeline.Delivery;

/// <summary>
/// Which messages a sink takes (<c>sinks[].filter</c>): message types (MSH-9.1, e.g. <c>ADT</c>), trigger events
/// (<c>ADT^A01</c>) and sending facilities (MSH-4.1). Each list that is given must match; an empty filter takes
/// everything. A message a sink does not take is counted as filtered at that sink, never lost.
/// </summary>
public sealed record SinkFilter
{
    /// <summary>Takes every message.</summary>
    public static SinkFilter All { get; } = new();

    /// <summary>MSH-9.1 values, or empty for any.</summary>
    public FrozenSet<string> MessageTypes { get; init; } = FrozenSet<string>.Empty;

    /// <summary>MSH-9.1^MSH-9.2 values, or empty for any.</summary>
    public FrozenSet<string> Events { get; init; } = FrozenSet<string>.Empty;

    /// <summary>MSH-4.1 values, or empty for any.</summary>
    public FrozenSet<string> SendingFacilities { get; init; } = FrozenSet<string>.Empty;

    /// <summary>True when the sink takes the message.</summary>
    public bool Accepts(MessageReceived message)
    {
        if (MessageTypes.Count == 0 && Events.Count == 0 && SendingFacilities.Count == 0)
        {
            return true;
        }

        // MessageType is MSH-9 as sent (CODE^EVENT[^STRUCTURE]); compared as spans, nothing allocated per message.
        ReadOnlySpan<char> type = message.MessageType;
        int first = type.IndexOf('^');
        ReadOnlySpan<char> code = first < 0 ? type : type[..first];
        int second = first < 0 ? -1 : type[(first + 1)..].IndexOf('^');
        ReadOnlySpan<char> trigger = second < 0 ? type : type[..(first + 1 + second)];
        ReadOnlySpan<char> facility = message.SendingFacility;
        int hat = facility.IndexOf('^');
        facility = hat < 0 ? facility : facility[..hat];
        return (MessageTypes.Count == 0 || MessageTypes.GetAlternateLookup<ReadOnlySpan<char>>().Contains(code))
            && (Events.Count == 0 || Events.GetAlternateLookup<ReadOnlySpan<char>>().Contains(trigger))
            && (SendingFacilities.Count == 0 || SendingFacilities.GetAlternateLookup<ReadOnlySpan<char>>().Contains(facility));
    }
}
