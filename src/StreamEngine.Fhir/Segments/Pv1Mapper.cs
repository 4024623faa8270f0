using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Ids;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>A mapped Encounter and the identifier it is upserted on.</summary>
public sealed record EncounterMapping(Encounter Encounter, Identifier Key);

/// <summary>PV1 to Encounter: visit number, class, status, period.</summary>
public static class Pv1Mapper
{
    /// <summary>
    /// Maps PV1. Null when there is no PV1, or PV1-2 is N (a person-level event: no encounter). The upsert key is
    /// the visit number (PV1-19); without one, an identifier derived from the message id and segment position.
    /// </summary>
    /// <param name="context">The mapping context.</param>
    /// <param name="status">The status the trigger event implies; PV1-45 (discharge time) makes it finished.</param>
    public static EncounterMapping? Map(MappingContext context, Encounter.EncounterStatus status)
    {
        if (context.Message.FindSegment("PV1") is not { } pv1)
        {
            return null;
        }

        string patientClass = pv1.Field(2).Component(1).ToString();
        if (patientClass == "N")
        {
            return null;
        }

        var encounter = new Encounter { Meta = new Meta { Profile = [UkCore.EncounterProfile] } };
        Identifier? key = CxMapper.ToLocalIdentifier(pv1.Field(19).Repetition(1), context.SendingFacility, defaultType: "VN");
        if (key is null)
        {
            // No visit number: a deterministic identifier from the message, so a resend upserts the same resource.
            key = new Identifier(IdentifierSystems.Local(context.SendingFacility, "encounter"), context.Message.ControlId + "-PV1-" + (pv1.Index + 1));
        }

        encounter.Identifier.Add(key);
        encounter.Class = patientClass switch
        {
            "I" => new Coding(UkCore.V3ActCode, "IMP"),
            "O" => new Coding(UkCore.V3ActCode, "AMB"),
            "E" => new Coding(UkCore.V3ActCode, "EMER"),
            "P" => new Coding(UkCore.V3ActCode, "PRENC"),
            _ => new Coding(UkCore.V3NullFlavor, "UNK"),
        };

        var period = new Period();
        string? start = DateTimeField(context, pv1, 44);
        string? end = DateTimeField(context, pv1, 45);
        if (start is not null)
        {
            period.Start = start;
        }

        if (end is not null)
        {
            period.End = end;
            status = Encounter.EncounterStatus.Finished;
        }

        if (start is not null || end is not null)
        {
            encounter.Period = period;
        }

        encounter.Status = status;
        return new EncounterMapping(encounter, key);
    }

    private static string? DateTimeField(MappingContext context, Hl7Segment pv1, int field)
    {
        Hl7Value value = pv1.Field(field).Repetition(1).Component(1);
        if (value.IsEmpty)
        {
            return null;
        }

        string? fhir = V2DateTime.ToFhirDateTime(value.ToString());
        if (fhir is null)
        {
            context.Warn(MappingIssueCode.InvalidDateTime, "PV1", field);
        }

        return fhir;
    }
}
