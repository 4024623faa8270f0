using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.TriggerEvents;

/// <summary>
/// PPR^PC1/PC2/PC3 (problem add/update/delete): one problem-list Condition per PRB, upserted on the problem instance
/// id (PRB-4); PC3 (delete) marks it entered in error. The Patient is referred to by conditional create.
/// </summary>
public sealed class ProblemMapper : ITriggerEventMapper
{
    private const string Clinical = "http://terminology.hl7.org/CodeSystem/condition-clinical";
    private const string Verification = "http://terminology.hl7.org/CodeSystem/condition-ver-status";

    /// <inheritdoc />
    public IReadOnlyCollection<string> Events { get; } = ["PPR^PC1", "PPR^PC2", "PPR^PC3"];

    /// <inheritdoc />
    public void Map(MappingContext context)
    {
        if (!Subjects.AddReferencedSubjects(context, Encounter.EncounterStatus.InProgress))
        {
            return;
        }

        bool deleted = context.Message.TriggerEvent == "PC3";
        int count = 0;
        foreach (Hl7Segment prb in context.Message.Segments("PRB"))
        {
            count++;
            var condition = new Condition
            {
                Meta = UkCore.Meta(UkCore.ConditionProfile),
                Subject = context.PatientReference!,
                Encounter = context.EncounterReference,
                Category = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem List Item", null)],
                Code = context.Concept(prb.Field(3), "PRB", 3) ?? Segments.ObrMapper.Unknown(context, "PRB", 3),
            };
            Identifier key = EiMapper.ToIdentifier(prb.Field(4), context.Profile, context.SendingFacility, null) ?? context.PositionalIdentifier("problem", prb);
            condition.Identifier.Add(key);
            string? recorded = context.DateTime(prb, 2);
            if (recorded is not null)
            {
                condition.RecordedDate = recorded;
            }

            string? onset = context.DateTime(prb, 16);
            if (onset is not null)
            {
                condition.Onset = new FhirDateTime(onset);
            }

            if (deleted || V2Text.First(prb.Field(1)) == "DE")
            {
                condition.VerificationStatus = new CodeableConcept(Verification, "entered-in-error");
            }
            else
            {
                condition.ClinicalStatus = new CodeableConcept(Clinical, "active");
            }

            context.Bundle.AddUpsert(condition, key);
        }

        if (count == 0)
        {
            context.Fail(MappingIssueCode.MissingSegment, "PRB", 0);
        }
    }
}
