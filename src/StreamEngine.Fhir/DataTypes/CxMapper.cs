using Hl7.Fhir.Model;
using StreamEngine.Fhir.Profiles;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.DataTypes;

/// <summary>CX (extended composite id) to <see cref="Identifier"/>, per the IG's CX[Identifier] map.</summary>
public static class CxMapper
{
    /// <summary>
    /// Maps one CX repetition as a local identifier: value CX.1, type CX.5 (table 0203), system from the Trust
    /// profile for CX.4 (else the sending facility) and CX.5, assigner CX.4. Null when CX.1 is empty.
    /// </summary>
    /// <param name="cx">The CX value.</param>
    /// <param name="defaultAuthority">Assigning authority when CX.4 is empty (the sending facility).</param>
    /// <param name="profile">The Trust profile (identifier systems).</param>
    /// <param name="defaultType">Identifier type when CX.5 is empty (e.g. VN for PV1-19).</param>
    /// <param name="system">A system that overrides the profile's (e.g. the visit-number system).</param>
    public static Identifier? ToLocalIdentifier(Hl7Value cx, string defaultAuthority, TrustProfile profile, string? defaultType = null, string? system = null)
    {
        string? value = V2Text.Of(cx.Component(1));
        if (value is null)
        {
            return null;
        }

        string authority = cx.Component(4).Subcomponent(1).ToString();
        if (authority.Length == 0)
        {
            authority = cx.Component(4).Subcomponent(2).ToString(); // HD.2: an OID authority with no namespace id
        }
        string type = cx.Component(5).ToString();
        if (type.Length == 0 && defaultType is not null)
        {
            type = defaultType;
        }

        var identifier = new Identifier(system ?? profile.SystemFor(authority.Length > 0 ? authority : defaultAuthority, type), value);
        if (type.Length > 0)
        {
            identifier.Type = new CodeableConcept(UkCore.V2_0203, type);
        }

        if (authority.Length > 0)
        {
            identifier.Assigner = new ResourceReference { Identifier = new Identifier { Value = authority } };
        }

        return identifier;
    }
}
