using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>AL1 (allergy) to AllergyIntolerance, per the IG's AL1[AllergyIntolerance] map.</summary>
public static class Al1Mapper
{
    private const string ClinicalStatus = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";

    /// <summary>Adds an AllergyIntolerance keyed on the message id and segment position.</summary>
    public static void Map(MappingContext context, Hl7Segment al1)
    {
        if (context.PatientReference is not { } patient)
        {
            return;
        }

        CodeableConcept? code = context.Concept(al1.Field(3), "AL1", 3);
        if (code is null)
        {
            context.Warn(MappingIssueCode.MissingRequiredValue, "AL1", 3);
            return;
        }

        var allergy = new AllergyIntolerance
        {
            Meta = UkCore.Meta(UkCore.AllergyIntoleranceProfile),
            Patient = patient,
            Code = code,
            ClinicalStatus = new CodeableConcept(ClinicalStatus, "active"),
        };
        Identifier key = context.PositionalIdentifier("allergy", al1);
        allergy.Identifier.Add(key);
        string? type = V2Text.First(al1.Field(2));
        if (V2Vocabulary.AllergenType.Lookup(type)?.Code is { } category && Enum.TryParse(category, true, out AllergyIntolerance.AllergyIntoleranceCategory c))
        {
            allergy.Category = [c];
        }

        string? severity = V2Text.First(al1.Field(4));
        if (V2Vocabulary.AllergySeverity.Lookup(severity)?.Code is { } criticality && Enum.TryParse(criticality, true, out AllergyIntolerance.AllergyIntoleranceCriticality crit))
        {
            allergy.Criticality = crit;
        }

        Hl7Value reactions = al1.Field(5);
        for (int r = 1; r <= reactions.RepetitionCount; r++)
        {
            if (V2Text.Of(reactions.Repetition(r)) is { } reaction)
            {
                allergy.Reaction.Add(new AllergyIntolerance.ReactionComponent { Manifestation = [new CodeableConcept { Text = reaction }] });
            }
        }

        string? onset = context.DateTime(al1, 6);
        if (onset is not null)
        {
            allergy.Onset = new FhirDateTime(onset);
        }

        context.Bundle.AddUpsert(allergy, key);
    }
}
