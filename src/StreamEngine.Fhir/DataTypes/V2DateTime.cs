using System.Globalization;

namespace StreamEngine.Fhir.DataTypes;

/// <summary>
/// HL7 v2 TS/DTM (<c>YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ]</c>) to FHIR date and dateTime, keeping the precision
/// sent. A time without an offset is local time in Europe/London, as English feeds send it.
/// </summary>
public static class V2DateTime
{
    private static readonly TimeZoneInfo London = FindLondon();

    /// <summary>A FHIR <c>date</c> (YYYY, YYYY-MM or YYYY-MM-DD) from the date part, or null when malformed.</summary>
    public static string? ToFhirDate(string? value)
    {
        if (!TryRead(value, out Parts p))
        {
            return null;
        }

        return p.Precision switch
        {
            >= 3 => string.Create(CultureInfo.InvariantCulture, $"{p.Year:D4}-{p.Month:D2}-{p.Day:D2}"),
            2 => string.Create(CultureInfo.InvariantCulture, $"{p.Year:D4}-{p.Month:D2}"),
            _ => string.Create(CultureInfo.InvariantCulture, $"{p.Year:D4}"),
        };
    }

    /// <summary>
    /// A FHIR <c>dateTime</c>: date-only precision stays a date; a time gets seconds and an offset (FHIR requires
    /// both once a time is present). Null when malformed.
    /// </summary>
    public static string? ToFhirDateTime(string? value)
    {
        if (!TryRead(value, out Parts p))
        {
            return null;
        }

        if (p.Precision <= 3)
        {
            return ToFhirDate(value);
        }

        var local = new DateTime(p.Year, p.Month, p.Day, p.Hour, p.Minute, p.Second, DateTimeKind.Unspecified);
        TimeSpan offset = p.Offset ?? London.GetUtcOffset(local);
        string fraction = p.Fraction.Length > 0 ? "." + p.Fraction : string.Empty;
        string sign = offset < TimeSpan.Zero ? "-" : "+";
        TimeSpan abs = offset.Duration();
        return string.Create(CultureInfo.InvariantCulture,
            $"{p.Year:D4}-{p.Month:D2}-{p.Day:D2}T{p.Hour:D2}:{p.Minute:D2}:{p.Second:D2}{fraction}{sign}{abs.Hours:D2}:{abs.Minutes:D2}");
    }

    /// <summary>An instant (for <c>instant</c> elements), or null when malformed or less precise than a day.</summary>
    public static DateTimeOffset? ToInstant(string? value)
    {
        if (!TryRead(value, out Parts p) || p.Precision < 3)
        {
            return null;
        }

        var local = new DateTime(p.Year, p.Month, p.Day, p.Hour, p.Minute, p.Second, DateTimeKind.Unspecified);
        TimeSpan offset = p.Offset ?? London.GetUtcOffset(local);
        return new DateTimeOffset(local, offset);
    }

    private record struct Parts(int Year, int Month, int Day, int Hour, int Minute, int Second, string Fraction, TimeSpan? Offset, int Precision);

    private static bool TryRead(string? value, out Parts parts)
    {
        parts = default;
        if (string.IsNullOrEmpty(value))
        {
            return false;
        }

        ReadOnlySpan<char> s = value.AsSpan().Trim();
        TimeSpan? offset = null;
        int signAt = s.IndexOfAny('+', '-');
        if (signAt >= 0)
        {
            ReadOnlySpan<char> z = s[(signAt + 1)..];
            if (z.Length != 4 || !int.TryParse(z[..2], NumberStyles.None, CultureInfo.InvariantCulture, out int zh)
                || !int.TryParse(z[2..], NumberStyles.None, CultureInfo.InvariantCulture, out int zm) || zh > 14 || zm > 59)
            {
                return false;
            }

            offset = new TimeSpan(zh, zm, 0) * (s[signAt] == '-' ? -1 : 1);
            s = s[..signAt];
        }

        string fraction = string.Empty;
        int dot = s.IndexOf('.');
        if (dot >= 0)
        {
            ReadOnlySpan<char> f = s[(dot + 1)..];
            if (f.IsEmpty || f.Length > 4 || !IsDigits(f) || dot != 14)
            {
                return false;
            }

            fraction = new string(f);
            s = s[..dot];
        }

        if (!IsDigits(s) || s.Length is not (4 or 6 or 8 or 10 or 12 or 14))
        {
            return false;
        }

        int year = Num(s, 0);
        int month = s.Length >= 6 ? Num(s, 4) : 1;
        int day = s.Length >= 8 ? Num(s, 6) : 1;
        int hour = s.Length >= 10 ? Num(s, 8) : 0;
        int minute = s.Length >= 12 ? Num(s, 10) : 0;
        int second = s.Length >= 14 ? Num(s, 12) : 0;
        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        int precision = s.Length switch { 4 => 1, 6 => 2, 8 => 3, 10 => 4, 12 => 5, _ => 6 };
        parts = new Parts(year, month, day, hour, minute, second, fraction, offset, precision);
        return true;

        static int Num(ReadOnlySpan<char> s, int at) =>
            int.Parse(s.Slice(at, at == 0 ? 4 : 2), NumberStyles.None, CultureInfo.InvariantCulture);
    }

    private static bool IsDigits(ReadOnlySpan<char> s)
    {
        foreach (char c in s)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return !s.IsEmpty;
    }

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
}
