using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Segments;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.TriggerEvents;

/// <summary>
/// REF^I12-I15 (patient referral): a ServiceRequest (a referral) upserted on the originating referral id (RF1-6),
/// with status (RF1-1), priority (RF1-2), type (RF1-3), reason (RF1-10, DG1) and the referring provider (PRD).
/// The Patient is referred to by conditional create.
/// </summary>
public sealed class ReferralMapper : ITriggerEventMapper
{
    /// <inheritdoc />
    public IReadOnlyCollection<string> Events { get; } = ["REF^I12", "REF^I13", "REF^I14", "REF^I15"];

    /// <inheritdoc />
    public void Map(MappingContext context)
    {
        if (!Subjects.AddReferencedSubjects(context, Encounter.EncounterStatus.Planned))
        {
            return;
        }

        Hl7Segment? rf1 = context.Message.FindSegment("RF1");
        var referral = new ServiceRequest
        {
            Meta = UkCore.Meta(UkCore.ServiceRequestProfile),
            Intent = RequestIntent.Order,
            Subject = context.PatientReference!,
            Encounter = context.EncounterReference,
            Category = [new CodeableConcept("http://snomed.info/sct", "3457005", "Patient referral", null)],
        };
        Identifier key = (rf1 is { } r ? EiMapper.ToIdentifier(r.Field(6), context.Profile, context.SendingFacility, "PLAC") : null)
            ?? context.PositionalIdentifier("referral", rf1 ?? context.Message.FindSegment("PID")!.Value);
        referral.Identifier.Add(key);
        referral.Status = RequestStatus.Active;
        if (rf1 is { } seg)
        {
            referral.Status = V2Text.First(seg.Field(1)) switch
            {
                "P" => RequestStatus.Draft,
                "R" => RequestStatus.Revoked,
                "E" => RequestStatus.Completed,
                "H" => RequestStatus.OnHold,
                _ => RequestStatus.Active,
            };
            referral.Code = context.Concept(seg.Field(3), "RF1", 3);
            referral.Priority = V2Text.First(seg.Field(2)) switch { "S" => RequestPriority.Stat, "A" => RequestPriority.Asap, "R" => RequestPriority.Routine, _ => null };
            string? when = context.DateTime(seg, 7);
            if (when is not null)
            {
                referral.AuthoredOn = when;
            }

            Hl7Value reasons = seg.Field(10);
            for (int i = 1; i <= reasons.RepetitionCount; i++)
            {
                if (context.Concept(reasons.Repetition(i), "RF1", 10) is { } reason)
                {
                    referral.ReasonCode.Add(reason);
                }
            }
        }

        foreach (Hl7Segment segment in context.Message)
        {
            if (segment.Id == "DG1" && context.Concept(segment.Field(3), "DG1", 3) is { } diagnosis)
            {
                referral.ReasonCode.Add(diagnosis);
            }
            else if (segment.Id == "PRD" && referral.Requester is null && V2Text.First(segment.Field(1)) is "RP" or null
                && XcnMapper.ToReference(segment.Field(2).Repetition(1), context.Profile, context.SendingFacility) is { } who)
            {
                referral.Requester = who;
            }
        }

        context.Bundle.AddUpsert(referral, key);
    }
}
