using Hl7.Fhir.Model;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.DataTypes;

/// <summary>XPN (person name) to <see cref="HumanName"/>, per the IG's XPN[HumanName] map.</summary>
public static class XpnMapper
{
    /// <summary>Maps one XPN repetition; null when it carries no name part.</summary>
    public static HumanName? ToHumanName(Hl7Value xpn)
    {
        var name = new HumanName();
        string family = xpn.Component(1).Subcomponent(1).ToString();
        if (family.Length > 0)
        {
            name.Family = family;
        }

        // The element lists are built directly: Firely's string-list setters copy through a LINQ projection.
        List<FhirString>? given = null;
        AddIfValued(ref given, xpn.Component(2));
        AddIfValued(ref given, xpn.Component(3));
        if (given is not null)
        {
            name.GivenElement = given;
        }

        string suffix = xpn.Component(4).ToString();
        if (suffix.Length > 0)
        {
            name.SuffixElement = [new FhirString(suffix)];
        }

        string prefix = xpn.Component(5).ToString();
        if (prefix.Length > 0)
        {
            name.PrefixElement = [new FhirString(prefix)];
        }

        // The IG's NameType map (table 0200): a code it leaves unmapped (A, B, C...) gives no use.
        name.Use = Terminology.V2Vocabulary.NameType.Lookup(V2Text.Of(xpn.Component(7)))?.Code is { } use
            && Enum.TryParse(use, ignoreCase: true, out HumanName.NameUse parsed) ? parsed : null;

        return name.Family is null && given is null ? null : name;
    }

    private static void AddIfValued(ref List<FhirString>? list, Hl7Value value)
    {
        string text = value.ToString();
        if (text.Length > 0 && !value.IsNull)
        {
            (list ??= new List<FhirString>(2)).Add(new FhirString(text));
        }
    }
}
