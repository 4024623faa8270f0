namespace StreamEngine.Hl7v2.Types;

// Typed readers for the composite data types integration engineers read most. Each is built from an Hl7Value
// (a field repetition or a component, as HL7 nests them) with escapes decoded; an absent component is "".

/// <summary>HD: hierarchic designator (assigning authorities, facilities, applications).</summary>
public sealed record HD(string NamespaceId, string UniversalId, string UniversalIdType)
{
    /// <summary>The type name only: values can be patient data and must not reach logs.</summary>
    public override string ToString() => nameof(HD);

    /// <summary>Reads an HD; a nested HD (inside CX.4, say) is read from subcomponents.</summary>
    public static HD From(Hl7Value value)
    {
        bool nested = value.Level == Hl7Level.Component;
        return new HD(Part(value, 1, nested), Part(value, 2, nested), Part(value, 3, nested));
    }

    internal static string Part(Hl7Value value, int n, bool nested) =>
        (nested ? value.Subcomponent(n) : value.Component(n)).ToString();
}

/// <summary>CX: extended composite id with check digit (patient identifiers, visit numbers).</summary>
public sealed record CX(string Id, string CheckDigit, string CheckDigitScheme, HD AssigningAuthority, string IdentifierTypeCode, HD AssigningFacility)
{
    /// <summary>The type name only: values can be patient data and must not reach logs.</summary>
    public override string ToString() => nameof(CX);

    /// <summary>Reads one CX repetition.</summary>
    public static CX From(Hl7Value value) => new(
        value.Component(1).ToString(), value.Component(2).ToString(), value.Component(3).ToString(),
        HD.From(value.Component(4)), value.Component(5).ToString(), HD.From(value.Component(6)));
}

/// <summary>EI: entity identifier (placer/filler order numbers).</summary>
public sealed record EI(string EntityId, string NamespaceId, string UniversalId, string UniversalIdType)
{
    /// <summary>The type name only: values can be patient data and must not reach logs.</summary>
    public override string ToString() => nameof(EI);

    /// <summary>Reads an EI (from components, or subcomponents when nested).</summary>
    public static EI From(Hl7Value value)
    {
        bool nested = value.Level == Hl7Level.Component;
        return new EI(HD.Part(value, 1, nested), HD.Part(value, 2, nested), HD.Part(value, 3, nested), HD.Part(value, 4, nested));
    }
}

/// <summary>XPN: extended person name.</summary>
public sealed record XPN(string FamilyName, string GivenName, string SecondNames, string Suffix, string Prefix, string Degree, string NameTypeCode)
{
    /// <summary>The type name only: values can be patient data and must not reach logs.</summary>
    public override string ToString() => nameof(XPN);

    /// <summary>Reads one XPN repetition. XPN.1 is FN; its surname is the first subcomponent.</summary>
    public static XPN From(Hl7Value value) => new(
        value.Component(1).Subcomponent(1).ToString(), value.Component(2).ToString(), value.Component(3).ToString(),
        value.Component(4).ToString(), value.Component(5).ToString(), value.Component(6).ToString(), value.Component(7).ToString());
}

/// <summary>XAD: extended address.</summary>
public sealed record XAD(string Street, string OtherDesignation, string City, string StateOrProvince, string PostalCode, string Country,
    string AddressType, string OtherGeographicDesignation, string CountyCode)
{
    /// <summary>The type name only: values can be patient data and must not reach logs.</summary>
    public override string ToString() => nameof(XAD);

    /// <summary>Reads one XAD repetition. XAD.1 is SAD; its street line is the first subcomponent.</summary>
    public static XAD From(Hl7Value value) => new(
        value.Component(1).Subcomponent(1).ToString(), value.Component(2).ToString(), value.Component(3).ToString(),
        value.Component(4).ToString(), value.Component(5).ToString(), value.Component(6).ToString(), value.Component(7).ToString(),
        value.Component(8).ToString(), value.Component(9).ToString());
}

/// <summary>XTN: extended telecommunication number.</summary>
public sealed record XTN(string Number, string UseCode, string EquipmentType, string Email, string CountryCode, string AreaCode, string LocalNumber,
    string Extension, string AnyText)
{
    /// <summary>The type name only: values can be patient data and must not reach logs.</summary>
    public override string ToString() => nameof(XTN);

    /// <summary>Reads one XTN repetition.</summary>
    public static XTN From(Hl7Value value) => new(
        value.Component(1).ToString(), value.Component(2).ToString(), value.Component(3).ToString(), value.Component(4).ToString(),
        value.Component(5).ToString(), value.Component(6).ToString(), value.Component(7).ToString(), value.Component(8).ToString(),
        value.Component(9).ToString());
}

/// <summary>CE, CWE and CNE: a coded element with an alternate coding (CWE/CNE add versions and original text).</summary>
public sealed record CWE(string Identifier, string Text, string CodingSystem, string AlternateIdentifier, string AlternateText,
    string AlternateCodingSystem, string CodingSystemVersion, string AlternateCodingSystemVersion, string OriginalText)
{
    /// <summary>The type name only: values can be patient data and must not reach logs.</summary>
    public override string ToString() => nameof(CWE);

    /// <summary>Reads a CE, CWE or CNE (from components, or subcomponents when nested, as in ERR-1.4).</summary>
    public static CWE From(Hl7Value value)
    {
        bool nested = value.Level == Hl7Level.Component;
        return new CWE(HD.Part(value, 1, nested), HD.Part(value, 2, nested), HD.Part(value, 3, nested), HD.Part(value, 4, nested),
            HD.Part(value, 5, nested), HD.Part(value, 6, nested), HD.Part(value, 7, nested), HD.Part(value, 8, nested), HD.Part(value, 9, nested));
    }

    /// <summary>True when neither the code nor the text is valued.</summary>
    public bool IsEmpty => Identifier.Length == 0 && Text.Length == 0;
}

/// <summary>XCN: extended composite id and name for persons (clinicians).</summary>
public sealed record XCN(string IdNumber, string FamilyName, string GivenName, string SecondNames, string Suffix, string Prefix, string Degree,
    string SourceTable, HD AssigningAuthority, string NameTypeCode, string IdentifierTypeCode)
{
    /// <summary>The type name only: values can be patient data and must not reach logs.</summary>
    public override string ToString() => nameof(XCN);

    /// <summary>Reads one XCN repetition.</summary>
    public static XCN From(Hl7Value value) => new(
        value.Component(1).ToString(), value.Component(2).Subcomponent(1).ToString(), value.Component(3).ToString(), value.Component(4).ToString(),
        value.Component(5).ToString(), value.Component(6).ToString(), value.Component(7).ToString(), value.Component(8).ToString(),
        HD.From(value.Component(9)), value.Component(10).ToString(), value.Component(13).ToString());
}

/// <summary>XON: extended composite name and id for organisations (PD1-3 GP practice, MSH-4 in later versions).</summary>
public sealed record XON(string OrganizationName, string NameTypeCode, string IdNumber, HD AssigningAuthority, string IdentifierTypeCode,
    string OrganizationIdentifier)
{
    /// <summary>The type name only: values can be patient data and must not reach logs.</summary>
    public override string ToString() => nameof(XON);

    /// <summary>Reads one XON repetition. The id is XON.10 from v2.5 on, XON.3 before; both are read.</summary>
    public static XON From(Hl7Value value) => new(
        value.Component(1).ToString(), value.Component(2).ToString(), value.Component(3).ToString(), HD.From(value.Component(6)),
        value.Component(7).ToString(), value.Component(10).ToString());

    /// <summary>XON.10 when valued, else XON.3.</summary>
    public string Id => OrganizationIdentifier.Length > 0 ? OrganizationIdentifier : IdNumber;
}

/// <summary>PL: person location (ward^room^bed^facility...).</summary>
public sealed record PL(string PointOfCare, string Room, string Bed, HD Facility, string LocationStatus, string PersonLocationType, string Building,
    string Floor, string Description)
{
    /// <summary>The type name only: values can be patient data and must not reach logs.</summary>
    public override string ToString() => nameof(PL);

    /// <summary>Reads a PL.</summary>
    public static PL From(Hl7Value value) => new(
        value.Component(1).Subcomponent(1).ToString(), value.Component(2).Subcomponent(1).ToString(), value.Component(3).Subcomponent(1).ToString(),
        HD.From(value.Component(4)), value.Component(5).ToString(), value.Component(6).ToString(), value.Component(7).ToString(),
        value.Component(8).ToString(), value.Component(9).ToString());
}

/// <summary>CQ: composite quantity with units.</summary>
public sealed record CQ(decimal? Quantity, CWE Units)
{
    /// <summary>The type name only: values can be patient data and must not reach logs.</summary>
    public override string ToString() => nameof(CQ);

    /// <summary>Reads a CQ; the units are a nested CE (subcomponents).</summary>
    public static CQ From(Hl7Value value) => new(Hl7Numbers.ParseDecimal(value.Component(1).ToString()), CWE.From(value.Component(2)));
}

/// <summary>SN: structured numeric (<c>&gt;^100</c>, <c>^1^:^128</c>, <c>^10^-^20</c>).</summary>
public sealed record SN(string Comparator, decimal? Number1, string SeparatorOrSuffix, decimal? Number2)
{
    /// <summary>The type name only: values can be patient data and must not reach logs.</summary>
    public override string ToString() => nameof(SN);

    /// <summary>Reads an SN.</summary>
    public static SN From(Hl7Value value) => new(
        value.Component(1).ToString(), Hl7Numbers.ParseDecimal(value.Component(2).ToString()), value.Component(3).ToString(),
        Hl7Numbers.ParseDecimal(value.Component(4).ToString()));
}

internal static class Hl7Numbers
{
    public static decimal? ParseDecimal(string text) =>
        decimal.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out decimal d) ? d : null;
}
