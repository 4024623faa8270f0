using System.Globalization;

namespace StreamEngine.Hl7v2.Types;

/// <summary>How much of a TS/DTM was sent.</summary>
public enum Hl7DateTimePrecision
{
    /// <summary>YYYY.</summary>
    Year = 1,

    /// <summary>YYYYMM.</summary>
    Month,

    /// <summary>YYYYMMDD.</summary>
    Day,

    /// <summary>YYYYMMDDHH.</summary>
    Hour,

    /// <summary>YYYYMMDDHHMM.</summary>
    Minute,

    /// <summary>YYYYMMDDHHMMSS.</summary>
    Second,

    /// <summary>YYYYMMDDHHMMSS.S[S[S[S]]].</summary>
    FractionOfSecond,
}

/// <summary>
/// TS/DTM: <c>YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]</c> with its precision and offset kept as sent.
/// (TS.2, the degree of precision, is obsolete; the precision is read from the length.)
/// </summary>
public sealed record Hl7DateTime(int Year, int Month, int Day, int Hour, int Minute, int Second, int FractionTicks,
    Hl7DateTimePrecision Precision, TimeSpan? Offset)
{
    /// <summary>The type name only: values can be patient data and must not reach logs.</summary>
    public override string ToString() => nameof(Hl7DateTime);

    /// <summary>Reads TS.1/DTM from a value (component 1 of a TS field); false when absent or malformed.</summary>
    public static bool TryFrom(Hl7Value value, out Hl7DateTime? result) => TryParse(value.Component(1).ToString(), out result);

    /// <summary>Parses the text of a TS/DTM; false when malformed.</summary>
    public static bool TryParse(ReadOnlySpan<char> s, out Hl7DateTime? result)
    {
        result = null;
        s = s.Trim();
        TimeSpan? offset = null;
        int sign = s.IndexOfAny('+', '-');
        if (sign >= 0)
        {
            ReadOnlySpan<char> z = s[(sign + 1)..];
            if (z.Length != 4 || !Digits(z) || Num(z, 0, 2) > 14 || Num(z, 2, 2) > 59 || (Num(z, 0, 2) == 14 && Num(z, 2, 2) > 0))
            {
                return false;
            }

            offset = new TimeSpan(Num(z, 0, 2), Num(z, 2, 2), 0) * (s[sign] == '-' ? -1 : 1);
            s = s[..sign];
        }

        int fractionTicks = 0;
        bool hasFraction = false;
        int dot = s.IndexOf('.');
        if (dot >= 0)
        {
            ReadOnlySpan<char> f = s[(dot + 1)..];
            if (dot != 14 || f.IsEmpty || f.Length > 4 || !Digits(f))
            {
                return false;
            }

            fractionTicks = Num(f, 0, f.Length) * (int)Math.Pow(10, 7 - f.Length);
            hasFraction = true;
            s = s[..dot];
        }

        if (!Digits(s) || s.Length is not (4 or 6 or 8 or 10 or 12 or 14))
        {
            return false;
        }

        int year = Num(s, 0, 4);
        int month = s.Length >= 6 ? Num(s, 4, 2) : 1;
        int day = s.Length >= 8 ? Num(s, 6, 2) : 1;
        int hour = s.Length >= 10 ? Num(s, 8, 2) : 0;
        int minute = s.Length >= 12 ? Num(s, 10, 2) : 0;
        int second = s.Length >= 14 ? Num(s, 12, 2) : 0;
        // Years 2..9998 keep every offset's instant inside DateTimeOffset's range.
        if (year is < 2 or > 9998 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        var precision = hasFraction ? Hl7DateTimePrecision.FractionOfSecond : (Hl7DateTimePrecision)(s.Length switch { 4 => 1, 6 => 2, 8 => 3, 10 => 4, 12 => 5, _ => 6 });
        result = new Hl7DateTime(year, month, day, hour, minute, second, fractionTicks, precision, offset);
        return true;
    }

    /// <summary>The instant, taking <paramref name="localOffset"/> for the offset when none was sent.</summary>
    public DateTimeOffset ToDateTimeOffset(Func<DateTime, TimeSpan> localOffset)
    {
        ArgumentNullException.ThrowIfNull(localOffset);
        var local = new DateTime(Year, Month, Day, Hour, Minute, Second, DateTimeKind.Unspecified).AddTicks(FractionTicks);
        return new DateTimeOffset(local, Offset ?? localOffset(local));
    }

    private static bool Digits(ReadOnlySpan<char> s)
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

    private static int Num(ReadOnlySpan<char> s, int at, int length) => int.Parse(s.Slice(at, length), NumberStyles.None, CultureInfo.InvariantCulture);
}
