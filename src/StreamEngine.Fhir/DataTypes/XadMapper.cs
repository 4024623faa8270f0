using Hl7.Fhir.Model;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.DataTypes;

/// <summary>XAD to Address, per the IG's XAD[Address] map (UK feeds put locality in XAD.2/3 and county in XAD.4).</summary>
public static class XadMapper
{
    /// <summary>Maps one XAD repetition; null when it carries no address part.</summary>
    public static Address? ToAddress(Hl7Value xad)
    {
        var address = new Address();
        List<FhirString>? lines = null; // the element list directly: Firely's Line setter copies through a LINQ projection
        if (V2Text.Of(xad.Component(1).Subcomponent(1)) is { } street)
        {
            (lines ??= new List<FhirString>(2)).Add(new FhirString(street));
        }

        if (V2Text.Of(xad.Component(2)) is { } other)
        {
            (lines ??= new List<FhirString>(2)).Add(new FhirString(other));
        }

        if (lines is not null)
        {
            address.LineElement = lines;
        }

        address.City = V2Text.Of(xad.Component(3));
        string? county = V2Text.Of(xad.Component(4));
        address.District = county;
        address.PostalCode = V2Text.Of(xad.Component(5));
        address.Country = V2Text.Of(xad.Component(6));
        string? type = V2Text.Of(xad.Component(7));
        if (V2Vocabulary.AddressUse.Lookup(type) is { } use && Enum.TryParse(use.Code, true, out Address.AddressUse u))
        {
            address.Use = u;
        }
        else if (type is "H")
        {
            address.Use = Address.AddressUse.Home;
        }

        if (V2Vocabulary.AddressType.Lookup(type) is { } kind && Enum.TryParse(kind.Code, true, out Address.AddressType t))
        {
            address.Type = t;
        }

        return lines is null && address.City is null && address.PostalCode is null && county is null && address.Country is null ? null : address;
    }
}
