using StreamEngine.Hl7v2.Types;
using StreamEngine.TestKit;

namespace StreamEngine.Hl7v2.Tests;

public sealed class TypedReaderTests
{
    private static readonly Hl7Message Message = Parse();

    private static Hl7Message Parse()
    {
        Assert.True(Hl7Parser.TryParse(TestData.Message(
            @"MSH|^~\&|PAS|RX1^1.2.3^ISO|R|RX1|20260715093000.25+0100||ADT^A01|1|P|2.5",
            @"PID|1||RX1^4^M11^R0B&2.16.840&ISO^MR^FAC1||TAYLOR&VAN^CHRIS^J^JR^DR^MD^L||19751212|M|||1 HIGH ST&HIGH ST&1^FLAT 2^LEEDS^W YORKS^LS1 1AA^GBR^H||^PRN^PH^^44^113^4960000^12^day~^NET^Internet^a@b.nhs.uk",
            "PD1|||MEADOW PRACTICE^^Y54321|G7654321^SMITH^JO^^^DR",
            "PV1|1|I|WARD9^B2^12^R0B01&2.1&ISO^^^MAIN^3^Ward nine",
            "ORC|NW|PL1^PAS^1.2^ISO",
            "OBX|1|SN|8480-6^Systolic^LN^SYS^Sys BP^L^2.70^^Systolic blood pressure||>^140|mm[Hg]&millimetre of mercury&UCUM",
            "OBX|2|SN|X^Ratio^L||^1^:^128",
            "TQ1|1|2^mg&milligram&UCUM"), out Hl7Message? m, out IReadOnlyList<Hl7Issue> issues), string.Join(",", issues));
        return m!;
    }

    private static Hl7Value At(string path) => Hl7Path.Parse(path).Locate(Message);

    [Fact]
    public void Cx_ReadsEveryComponent_AndTheNestedAuthority()
    {
        CX cx = CX.From(At("PID-3"));
        Assert.Equal(("RX1", "4", "M11", "MR"), (cx.Id, cx.CheckDigit, cx.CheckDigitScheme, cx.IdentifierTypeCode));
        Assert.Equal(new HD("R0B", "2.16.840", "ISO"), cx.AssigningAuthority);
        Assert.Equal("FAC1", cx.AssigningFacility.NamespaceId);
    }

    [Fact]
    public void Hd_AtFieldLevel_ReadsComponents_AndNestedReadsSubcomponents()
    {
        Assert.Equal(new HD("PAS", "", ""), HD.From(At("MSH-3")));
        Assert.Equal(new HD("RX1", "1.2.3", "ISO"), HD.From(At("MSH-4")));
    }

    [Fact]
    public void Xpn_Xad_Xtn_ReadTheirParts()
    {
        XPN name = XPN.From(At("PID-5"));
        Assert.Equal(new XPN("TAYLOR", "CHRIS", "J", "JR", "DR", "MD", "L"), name);
        XAD address = XAD.From(At("PID-11"));
        Assert.Equal(("1 HIGH ST", "FLAT 2", "LEEDS", "W YORKS", "LS1 1AA", "GBR", "H"),
            (address.Street, address.OtherDesignation, address.City, address.StateOrProvince, address.PostalCode, address.Country, address.AddressType));
        XTN phone = XTN.From(At("PID-13"));
        Assert.Equal(("PRN", "PH", "44", "113", "4960000", "12", "day"), (phone.UseCode, phone.EquipmentType, phone.CountryCode, phone.AreaCode, phone.LocalNumber, phone.Extension, phone.AnyText));
        Assert.Equal("a@b.nhs.uk", XTN.From(At("PID-13(2)")).Email);
    }

    [Fact]
    public void Cwe_ReadsCodeTextSystemsVersionsAndOriginalText()
    {
        CWE code = CWE.From(At("OBX-3"));
        Assert.Equal(new CWE("8480-6", "Systolic", "LN", "SYS", "Sys BP", "L", "2.70", "", "Systolic blood pressure"), code);
        CWE units = CWE.From(At("OBX-6").Component(1));
        Assert.Equal(("mm[Hg]", "millimetre of mercury", "UCUM"), (units.Identifier, units.Text, units.CodingSystem));
    }

    [Fact]
    public void Xon_Xcn_Pl_Ei_ReadTheirParts()
    {
        XON practice = XON.From(At("PD1-3"));
        Assert.Equal(("MEADOW PRACTICE", "Y54321", "Y54321"), (practice.OrganizationName, practice.IdNumber, practice.Id));
        XCN gp = XCN.From(At("PD1-4"));
        Assert.Equal(("G7654321", "SMITH", "JO", "DR"), (gp.IdNumber, gp.FamilyName, gp.GivenName, gp.Prefix));
        PL location = PL.From(At("PV1-3"));
        Assert.Equal(("WARD9", "B2", "12", "R0B01", "MAIN", "3", "Ward nine"), (location.PointOfCare, location.Room, location.Bed, location.Facility.NamespaceId, location.Building, location.Floor, location.Description));
        Assert.Equal(new EI("PL1", "PAS", "1.2", "ISO"), EI.From(At("ORC-2")));
    }

    [Fact]
    public void Sn_And_Cq_ReadNumbers()
    {
        Assert.Equal(new SN(">", 140m, "", null), SN.From(At("OBX-5")));
        Assert.Equal(new SN("", 1m, ":", 128m), SN.From(At("OBX(2)-5")));
        CQ cq = CQ.From(At("TQ1-2"));
        Assert.Equal(2m, cq.Quantity);
        Assert.Equal("mg", cq.Units.Identifier);
    }

    [Theory]
    [InlineData("2026", Hl7DateTimePrecision.Year, null)]
    [InlineData("202607", Hl7DateTimePrecision.Month, null)]
    [InlineData("20260715", Hl7DateTimePrecision.Day, null)]
    [InlineData("2026071509", Hl7DateTimePrecision.Hour, null)]
    [InlineData("202607150930", Hl7DateTimePrecision.Minute, null)]
    [InlineData("20260715093000", Hl7DateTimePrecision.Second, null)]
    [InlineData("20260715093000.1234-0500", Hl7DateTimePrecision.FractionOfSecond, -300)]
    [InlineData("20260715+0100", Hl7DateTimePrecision.Day, 60)]
    public void DateTime_KeepsPrecisionAndOffset(string text, Hl7DateTimePrecision precision, int? offsetMinutes)
    {
        Assert.True(Hl7DateTime.TryParse(text, out Hl7DateTime? t));
        Assert.Equal(precision, t!.Precision);
        Assert.Equal(offsetMinutes is null ? null : TimeSpan.FromMinutes(offsetMinutes.Value), t.Offset);
    }

    [Fact]
    public void DateTime_FromMsh7_GivesTheInstant()
    {
        Assert.True(Hl7DateTime.TryFrom(At("MSH-7"), out Hl7DateTime? t));
        Assert.Equal(new DateTimeOffset(2026, 7, 15, 9, 30, 0, 250, TimeSpan.FromHours(1)), t!.ToDateTimeOffset(_ => TimeSpan.Zero));
    }

    [Theory]
    [InlineData("")]
    [InlineData("20261")]
    [InlineData("20260230")]
    [InlineData("20260715093000.12345")]
    [InlineData("20260715+01")]
    [InlineData("2026-07-15")]
    public void DateTime_Malformed_IsRejected(string text) => Assert.False(Hl7DateTime.TryParse(text, out _));
}
