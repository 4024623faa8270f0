using Hl7.Fhir.Model;
using StreamEngine.Fhir.Profiles;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.DataTypes;

/// <summary>XON (an organisation) and HD (a facility) to a logical Reference(Organization).</summary>
public static class XonMapper
{
    /// <summary>
    /// XON: the id is XON.10 (v2.5+) or XON.3; in England it is an ODS code (PD1-3: the GP practice).
    /// Null when neither an id nor a name is given.
    /// </summary>
    public static ResourceReference? ToReference(Hl7Value xon, TrustProfile profile, string defaultAuthority)
    {
        string? name = V2Text.Of(xon.Component(1));
        string? id = V2Text.Of(xon.Component(10)) ?? V2Text.Of(xon.Component(3));
        if (id is null && name is null)
        {
            return null;
        }

        var reference = new ResourceReference { Type = "Organization" };
        if (id is not null)
        {
            string? authority = V2Text.Of(xon.Component(6).Subcomponent(1));
            reference.Identifier = profile.FacilitiesAreOdsCodes && (authority is null or "NHS" or "ODS") && IsOdsCode(id)
                ? new Identifier(UkCore.OdsOrganizationCode, id)
                : new Identifier(profile.SystemFor(authority ?? defaultAuthority, V2Text.Of(xon.Component(7)) ?? "XX"), id);
        }

        if (name is not null)
        {
            reference.Display = name;
        }

        return reference;
    }

    /// <summary>
    /// HD (MSH-4, PL.4) as an organisation identifier: an ODS code (3-character organisation, 5-character site) when
    /// the profile says facilities are ODS codes; an OID (HD.2 with HD.3 = ISO) as urn:oid; else a local system.
    /// </summary>
    public static Identifier? FacilityIdentifier(Hl7Value hd, TrustProfile profile)
    {
        string? ns = V2Text.Of(hd.Component(1).Subcomponent(1));
        string? universal = V2Text.Of(hd.Component(2));
        string? type = V2Text.Of(hd.Component(3));
        if (profile.FacilitiesAreOdsCodes && ns is not null && IsOdsCode(ns))
        {
            return new Identifier(ns.Length == 5 ? UkCore.OdsSiteCode : UkCore.OdsOrganizationCode, ns);
        }

        if (universal is not null && type is "ISO")
        {
            return new Identifier("urn:ietf:rfc:3986", "urn:oid:" + universal);
        }

        return ns is null ? null : new Identifier(profile.SystemFor(ns, "facility"), ns);
    }

    /// <summary>True for an ODS code shape: 3 to 6 upper-case letters and digits, at least one digit.</summary>
    public static bool IsOdsCode(string value)
    {
        if (value.Length is < 3 or > 6)
        {
            return false;
        }

        bool digit = false;
        foreach (char c in value)
        {
            if (char.IsAsciiDigit(c))
            {
                digit = true;
            }
            else if (!char.IsAsciiLetterUpper(c))
            {
                return false;
            }
        }

        return digit;
    }
}
