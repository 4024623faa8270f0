using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>PR1 (procedure) to Procedure, per the IG's PR1[Procedure] map.</summary>
public static class Pr1Mapper
{
    /// <summary>Adds a Procedure keyed on PR1-19 (v2.5+ procedure identifier) or the message id and position.</summary>
    public static void Map(MappingContext context, Hl7Segment pr1)
    {
        if (context.PatientReference is not { } patient)
        {
            return;
        }

        CodeableConcept? code = context.Concept(pr1.Field(3), "PR1", 3);
        if (code is null)
        {
            context.Warn(MappingIssueCode.MissingRequiredValue, "PR1", 3);
            return;
        }

        var procedure = new Procedure
        {
            Meta = UkCore.Meta(UkCore.ProcedureProfile),
            Subject = patient,
            Code = code,
            Status = EventStatus.Completed,
            Encounter = context.EncounterReference,
        };
        Identifier key = EiMapper.ToIdentifier(pr1.Field(19), context.Profile, context.SendingFacility, null)
            ?? context.PositionalIdentifier("procedure", pr1);
        procedure.Identifier.Add(key);
        string? performed = context.DateTime(pr1, 5);
        if (performed is not null)
        {
            procedure.Performed = new FhirDateTime(performed);
        }

        Hl7Value surgeons = pr1.Field(12);
        for (int r = 1; r <= surgeons.RepetitionCount; r++)
        {
            if (XcnMapper.ToReference(surgeons.Repetition(r), context.Profile, context.SendingFacility) is { } who)
            {
                procedure.Performer.Add(new Procedure.PerformerComponent { Actor = who });
            }
        }

        context.Bundle.AddUpsert(procedure, key);
    }
}
