using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>
/// ORC (+ OBR) to ServiceRequest, per the IG's ORC[ServiceRequest] and OBR[ServiceRequest] maps: placer and filler
/// numbers, status from ORC-5 (else the order control code ORC-1), intent order, code, priority, authored time,
/// requester.
/// </summary>
public static class OrcMapper
{
    /// <summary>Builds the request keyed on the placer number (else filler, else the message id and position).</summary>
    public static (ServiceRequest Request, Identifier Key) Map(MappingContext context, Hl7Segment? orc, Hl7Segment? obr, OrderNumbers numbers, Hl7Segment position)
    {
        // OBR-24 (the diagnostic service section) decides the kind of order: laboratory (UK Core ServiceRequest-Lab),
        // imaging, or another service (the base profile, no category).
        SectionKind kind = context.SectionOf(obr);
        bool laboratory = kind == SectionKind.Laboratory;
        var request = new ServiceRequest
        {
            Meta = UkCore.Meta(laboratory ? UkCore.ServiceRequestLabProfile : UkCore.ServiceRequestProfile),
            Intent = RequestIntent.Order,
            Subject = context.PatientReference!,
            Encounter = context.EncounterReference,
            Category = laboratory ? [new CodeableConcept("http://snomed.info/sct", "108252007", "Laboratory procedure", null)]
                : kind == SectionKind.Imaging ? [new CodeableConcept("http://snomed.info/sct", "363679005", "Imaging", null)]
                : [],
        };
        request.Identifier.AddRange(numbers.All());
        Identifier key = numbers.Placer ?? numbers.Filler ?? context.PositionalIdentifier("order", position);
        if (request.Identifier.Count == 0)
        {
            request.Identifier.Add(key);
        }

        request.Status = Status(orc);
        if (obr is { } o)
        {
            request.Code = context.Concept(o.Field(4), "OBR", 4);
            string? priority = V2Text.First(o.Field(5)) ?? V2Text.Of(o.Field(27).Component(6));
            request.Priority = Priority(priority);
            string? when = context.DateTime(o, 7);
            if (when is not null)
            {
                request.Occurrence = new FhirDateTime(when);
            }

            if (request.Requester is null && XcnMapper.ToReference(o.Field(16).Repetition(1), context.Profile, context.SendingFacility) is { } orderedBy)
            {
                request.Requester = orderedBy;
            }

            Hl7Value reasons = o.Field(31);
            for (int r = 1; r <= reasons.RepetitionCount; r++)
            {
                if (context.Concept(reasons.Repetition(r), "OBR", 31) is { } reason)
                {
                    request.ReasonCode.Add(reason);
                }
            }
        }

        if (orc is { } c)
        {
            string? authored = context.DateTime(c, 9);
            if (authored is not null)
            {
                request.AuthoredOn = authored;
            }

            if (XcnMapper.ToReference(c.Field(12).Repetition(1), context.Profile, context.SendingFacility) is { } provider)
            {
                request.Requester = provider;
            }

            request.Priority ??= Priority(V2Text.Of(c.Field(7).Component(6)));
            if (context.Concept(c.Field(16), "ORC", 16) is { } reason)
            {
                request.ReasonCode.Add(reason);
            }
        }

        return (request, key);
    }

    private static RequestStatus Status(Hl7Segment? orc)
    {
        if (orc is not { } c)
        {
            return RequestStatus.Active;
        }

        string? code = V2Vocabulary.OrderStatus.Lookup(V2Text.First(c.Field(5)))?.Code;
        if (code is null)
        {
            string? control = V2Text.First(c.Field(1));
            code = control switch
            {
                "CA" or "OC" or "CR" or "DC" or "OD" => "revoked",
                "HD" or "OH" => "on-hold",
                _ => V2Vocabulary.OrderControl.Lookup(control)?.Code,
            };
        }

        return code switch
        {
            "draft" => RequestStatus.Draft,
            "on-hold" => RequestStatus.OnHold,
            "revoked" => RequestStatus.Revoked,
            "completed" => RequestStatus.Completed,
            "entered-in-error" => RequestStatus.EnteredInError,
            "unknown" => RequestStatus.Unknown,
            _ => RequestStatus.Active,
        };
    }

    private static RequestPriority? Priority(string? code) => code switch
    {
        "S" => RequestPriority.Stat,
        "A" => RequestPriority.Asap,
        "R" => RequestPriority.Routine,
        "P" or "T" => RequestPriority.Urgent,
        _ => null,
    };
}
