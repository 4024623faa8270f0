using System.Globalization;
using StreamEngine.Hl7v2.Types;

namespace StreamEngine.Fhir.DataTypes;

/// <summary>
/// HL7 v2 TS/DTM to FHIR date and dateTime, keeping the precision sent. A time without an offset is local time in
/// Europe/London, as English feeds send it.
/// </summary>
public static class V2DateTime
{
    private static readonly TimeZoneInfo London = FindLondon();

    // The offset of each of the last few local clock hours looked up, by hour number: every message converts its MSH-7
    // and a few more times, nearly all within the same hours, and TimeZoneInfo's search of its rules took ~4% of a
    // mapping. Exact, as the UK's clocks change on the hour (a skipped or repeated hour has one answer for the whole of it).
    private static readonly HourOffset?[] RecentHours = new HourOffset?[64];

    /// <summary>The Europe/London offset at a local time.</summary>
    public static TimeSpan LondonOffset(DateTime local)
    {
        long hour = local.Ticks / TimeSpan.TicksPerHour;
        ref HourOffset? slot = ref RecentHours[(int)(hour & (RecentHours.Length - 1))];
        if (Volatile.Read(ref slot) is { } known && known.Hour == hour)
        {
            return known.Offset;
        }

        TimeSpan offset = London.GetUtcOffset(local);
        Volatile.Write(ref slot, new HourOffset(hour, offset));
        return offset;
    }

    /// <summary>A FHIR <c>date</c> (YYYY, YYYY-MM or YYYY-MM-DD) from the date part, or null when malformed.</summary>
    public static string? ToFhirDate(string? value)
    {
        if (!Hl7DateTime.TryParse(value, out Hl7DateTime? t))
        {
            return null;
        }

        return t!.Precision switch
        {
            >= Hl7DateTimePrecision.Day => string.Create(CultureInfo.InvariantCulture, $"{t.Year:D4}-{t.Month:D2}-{t.Day:D2}"),
            Hl7DateTimePrecision.Month => string.Create(CultureInfo.InvariantCulture, $"{t.Year:D4}-{t.Month:D2}"),
            _ => string.Create(CultureInfo.InvariantCulture, $"{t.Year:D4}"),
        };
    }

    /// <summary>
    /// A FHIR <c>dateTime</c>: date-only precision stays a date; a time gets seconds and an offset (FHIR requires
    /// both once a time is present). Null when malformed.
    /// </summary>
    public static string? ToFhirDateTime(string? value)
    {
        if (!Hl7DateTime.TryParse(value, out Hl7DateTime? t))
        {
            return null;
        }

        if (t!.Precision <= Hl7DateTimePrecision.Day)
        {
            return ToFhirDate(value);
        }

        DateTimeOffset instant = t.ToDateTimeOffset(LondonOffset);
        string format = t.Precision == Hl7DateTimePrecision.FractionOfSecond ? "yyyy-MM-dd'T'HH:mm:ss.FFFFzzz" : "yyyy-MM-dd'T'HH:mm:sszzz";
        return instant.ToString(format, CultureInfo.InvariantCulture);
    }

    /// <summary>An instant (for <c>instant</c> elements), or null when malformed or less precise than a day.</summary>
    public static DateTimeOffset? ToInstant(string? value) =>
        Hl7DateTime.TryParse(value, out Hl7DateTime? t) && t!.Precision >= Hl7DateTimePrecision.Day ? t.ToDateTimeOffset(LondonOffset) : null;

    private static TimeZoneInfo FindLondon()
    {
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById("Europe/London");
        }
        catch (TimeZoneNotFoundException)
        {
            // Hosts without tz data: GMT/BST rules are fixed in law since 1996 (last Sunday of March/October, 01:00 UTC).
            var start = TimeZoneInfo.TransitionTime.CreateFloatingDateRule(new DateTime(1, 1, 1, 1, 0, 0), 3, 5, DayOfWeek.Sunday);
            var end = TimeZoneInfo.TransitionTime.CreateFloatingDateRule(new DateTime(1, 1, 1, 2, 0, 0), 10, 5, DayOfWeek.Sunday);
            var rule = TimeZoneInfo.AdjustmentRule.CreateAdjustmentRule(DateTime.MinValue.Date, DateTime.MaxValue.Date, TimeSpan.FromHours(1), start, end);
            return TimeZoneInfo.CreateCustomTimeZone("Europe/London", TimeSpan.Zero, "Europe/London", "GMT", "BST", [rule]);
        }
    }

    private sealed record HourOffset(long Hour, TimeSpan Offset);
}
