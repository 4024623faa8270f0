using Hl7.Fhir.Model;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>DG1 (diagnosis) to Condition (encounter diagnosis), per the IG's DG1[Condition] map.</summary>
public static class Dg1Mapper
{
    /// <summary>Adds a Condition keyed on the message id and segment position; links it from the Encounter.</summary>
    public static void Map(MappingContext context, Hl7Segment dg1)
    {
        if (context.PatientReference is not { } patient)
        {
            return;
        }

        CodeableConcept? code = context.Concept(dg1.Field(3), "DG1", 3);
        if (code is null)
        {
            context.Warn(MappingIssueCode.MissingRequiredValue, "DG1", 3);
            return;
        }

        var condition = new Condition
        {
            Meta = UkCore.Meta(UkCore.ConditionProfile),
            Subject = patient,
            Code = code,
            Category = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis", "Encounter Diagnosis", null)],
            Encounter = context.EncounterReference,
        };
        Identifier key = context.PositionalIdentifier("condition", dg1);
        condition.Identifier.Add(key);
        string? recorded = context.DateTime(dg1, 5);
        if (recorded is not null)
        {
            condition.RecordedDate = recorded;
        }

        string url = context.Bundle.AddUpsert(condition, key);
        if (context.Encounter is { } encounter)
        {
            var diagnosis = new Encounter.DiagnosisComponent { Condition = new ResourceReference(url) };
            if (V2Vocabulary.DiagnosisType.Lookup(DataTypes.V2Text.First(dg1.Field(6))) is { } use)
            {
                diagnosis.Use = new CodeableConcept(use.System, use.Code, use.Display, null);
            }

            encounter.Diagnosis.Add(diagnosis);
        }
    }
}
