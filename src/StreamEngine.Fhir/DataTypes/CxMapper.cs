using Hl7.Fhir.Model;
using StreamEngine.Fhir.Ids;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.DataTypes;

/// <summary>CX (extended composite id) to <see cref="Identifier"/>, per the IG's CX[Identifier] map.</summary>
public static class CxMapper
{
    /// <summary>
    /// Maps one CX repetition as a local identifier: value CX.1, type CX.5 (table 0203), system from CX.4 (else the
    /// sending facility) and CX.5, assigner CX.4. Null when CX.1 is empty.
    /// </summary>
    /// <param name="cx">The CX value.</param>
    /// <param name="defaultAuthority">Assigning authority when CX.4 is empty (the sending facility).</param>
    /// <param name="defaultType">Identifier type when CX.5 is empty (e.g. VN for PV1-19).</param>
    public static Identifier? ToLocalIdentifier(Hl7Value cx, string defaultAuthority, string? defaultType = null)
    {
        string value = cx.Component(1).ToString();
        if (value.Length == 0)
        {
            return null;
        }

        string authority = cx.Component(4).Subcomponent(1).ToString();
        string type = cx.Component(5).ToString();
        if (type.Length == 0 && defaultType is not null)
        {
            type = defaultType;
        }

        var identifier = new Identifier(IdentifierSystems.Local(authority.Length > 0 ? authority : defaultAuthority, type), value);
        if (type.Length > 0)
        {
            identifier.Type = new CodeableConcept(IdentifierSystems.V2IdentifierType, type);
        }

        if (authority.Length > 0)
        {
            identifier.Assigner = new ResourceReference { Identifier = new Identifier { Value = authority } };
        }

        return identifier;
    }
}
