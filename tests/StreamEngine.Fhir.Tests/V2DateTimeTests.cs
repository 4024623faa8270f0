using StreamEngine.Fhir.DataTypes;

namespace StreamEngine.Fhir.Tests;

public sealed class V2DateTimeTests
{
    [Theory]
    [InlineData("1975", "1975")]
    [InlineData("197512", "1975-12")]
    [InlineData("19751212", "1975-12-12")]
    [InlineData("197512120930", "1975-12-12")]
    public void ToFhirDate_KeepsThePrecisionSent(string v2, string expected) => Assert.Equal(expected, V2DateTime.ToFhirDate(v2));

    [Theory]
    [InlineData("20260115093000", "2026-01-15T09:30:00+00:00")] // GMT
    [InlineData("20260715093000", "2026-07-15T09:30:00+01:00")] // BST
    [InlineData("2026071509", "2026-07-15T09:00:00+01:00")]
    [InlineData("20260715093000.25", "2026-07-15T09:30:00.25+01:00")]
    [InlineData("20260715093000-0500", "2026-07-15T09:30:00-05:00")]
    [InlineData("20260715", "2026-07-15")]
    public void ToFhirDateTime_NoOffsetMeansEuropeLondon(string v2, string expected) => Assert.Equal(expected, V2DateTime.ToFhirDateTime(v2));

    [Theory]
    [InlineData("2026")]
    [InlineData("20261")]
    [InlineData("20261301")]
    [InlineData("20260230")]
    [InlineData("2026010125")]
    [InlineData("20260101+1")]
    [InlineData("abc")]
    [InlineData("")]
    public void Malformed_GivesNull(string v2)
    {
        Assert.Null(V2DateTime.ToFhirDateTime(v2.Length == 4 ? v2 + "x" : v2));
        Assert.Null(V2DateTime.ToInstant(v2));
    }

    [Fact]
    public void LondonOffset_RemembersHours_AndStaysExactAcrossTheClockChanges()
    {
        TimeZoneInfo london = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");
        var times = new List<DateTime>();
        foreach (DateTime day in new[] { new DateTime(2026, 3, 29), new DateTime(2026, 10, 25), new DateTime(2027, 3, 28), new DateTime(2027, 10, 31) })
        {
            for (DateTime t = day.AddHours(-3); t < day.AddHours(6); t = t.AddMinutes(7))
            {
                times.Add(t); // the skipped hour in March, the repeated one in October, and either side
            }
        }

        // In order, backwards and again: every hour met from a fresh slot, a remembered one and a slot another hour took.
        foreach (DateTime t in times.Concat(Enumerable.Reverse(times)).Concat(times))
        {
            Assert.Equal(london.GetUtcOffset(t), V2DateTime.LondonOffset(t));
        }

        Assert.Equal(TimeSpan.Zero, V2DateTime.LondonOffset(new DateTime(2026, 3, 29, 0, 59, 0)));
        Assert.Equal(TimeSpan.FromHours(1), V2DateTime.LondonOffset(new DateTime(2026, 3, 29, 2, 0, 0)));
        Assert.Equal(TimeSpan.FromHours(1), V2DateTime.LondonOffset(new DateTime(2026, 10, 25, 0, 59, 0)));
        Assert.Equal(TimeSpan.Zero, V2DateTime.LondonOffset(new DateTime(2026, 10, 25, 2, 0, 0)));
    }
}
