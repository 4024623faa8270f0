using Hl7.Fhir.Model;
using StreamEngine.Fhir.Profiles;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.DataTypes;

/// <summary>EI (entity identifier: order numbers, appointment and document ids) to Identifier.</summary>
public static class EiMapper
{
    /// <summary>
    /// Value EI.1; system from the namespace EI.2 (else the sender) through the profile, or <c>urn:oid:</c> EI.3 when
    /// EI.4 is ISO; type from table 0203 (PLAC, FILL...). Null when EI.1 is empty.
    /// </summary>
    public static Identifier? ToIdentifier(Hl7Value ei, TrustProfile profile, string defaultAuthority, string? type)
    {
        string? value = V2Text.Of(ei.Component(1));
        if (value is null)
        {
            return null;
        }

        string? ns = V2Text.Of(ei.Component(2));
        string? universal = V2Text.Of(ei.Component(3));
        string system = ns is null && universal is not null && V2Text.Of(ei.Component(4)) == "ISO"
            ? "urn:oid:" + universal
            : profile.SystemFor(ns ?? defaultAuthority, type ?? string.Empty);
        var identifier = new Identifier(system, value);
        if (type is not null)
        {
            identifier.Type = new CodeableConcept(Terminology.UkCore.V2_0203, type);
        }

        return identifier;
    }
}
