using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>A mapped Encounter and the identifier it is upserted on.</summary>
public sealed record EncounterMapping(Encounter Encounter, Identifier Key);

/// <summary>
/// PV1 (and PV2) to Encounter, per the IG's PV1[Encounter] map with the NHS overrides: visit number, class, status,
/// period, locations, participants (ATND/REF/CON/ADM), specialty, and the NHS Data Dictionary admission method,
/// source of admission and discharge destination as UK Core elements.
/// </summary>
public static class Pv1Mapper
{
    /// <summary>
    /// Maps PV1. Null when PV1-2 is N (a person-level event: no encounter) or there is no visit number (PV1-19), the
    /// Encounter's upsert key.
    /// </summary>
    /// <param name="context">The mapping context.</param>
    /// <param name="pv1">The PV1 segment.</param>
    /// <param name="status">The status the trigger event implies; PV1-45 (discharge time) makes it finished.</param>
    /// <param name="priorLocationCompleted">True for a transfer (A02): PV1-6 is the location left.</param>
    public static EncounterMapping? Map(MappingContext context, Hl7Segment pv1, Encounter.EncounterStatus status, bool priorLocationCompleted = false)
    {
        string? patientClass = V2Text.First(pv1.Field(2));
        if (patientClass == "N")
        {
            return null;
        }

        if (VisitNumber(context, pv1) is not { } key)
        {
            // Without a visit number an Encounter could not be upserted: every message would make another one.
            context.Warn(MappingIssueCode.MissingVisitNumber, "PV1", 19);
            return null;
        }

        var encounter = new Encounter { Meta = UkCore.Meta(UkCore.EncounterProfile) };
        encounter.Identifier.Add(key);
        encounter.Class = V2Vocabulary.PatientClass.Lookup(patientClass) is { } mapped
            ? new Coding(mapped.System, mapped.Code, mapped.Display)
            : new Coding(UkCore.V3NullFlavor, "UNK", "unknown");

        string? start = context.DateTime(pv1, 44);
        string? end = context.DateTime(pv1, 45);
        if (start is not null || end is not null)
        {
            encounter.Period = new Period { Start = start, End = end };
        }

        if (end is not null && status is not (Encounter.EncounterStatus.Cancelled or Encounter.EncounterStatus.EnteredInError))
        {
            status = Encounter.EncounterStatus.Finished;
        }

        encounter.Status = status;
        if (context.PatientReference is { } subject)
        {
            encounter.Subject = subject;
        }

        Locations(context, pv1, encounter, patientClass, priorLocationCompleted);
        Participants(context, pv1, encounter);
        Hospitalization(context, pv1, encounter);
        if (CweMapper.ToCodeableConcept(pv1.Field(10), context.Profile) is { } service)
        {
            // A bare specialty code (PV1-10 is IS in v2.4) is the Trust's own: it gets the Trust's system, then the
            // Trust's ConceptMap adds the national code.
            if (service.Coding.Count > 0 && service.Coding[0].System is null)
            {
                service.Coding[0].System = context.Profile.SystemFor(context.SendingFacility, "specialty");
            }

            encounter.ServiceType = context.Translate(service, "PV1", 10);
        }

        if (InGroup(context.Message, pv1, "PV2") is { } pv2 && context.Concept(pv2.Field(3), "PV2", 3) is { } reason)
        {
            encounter.ReasonCode.Add(reason);
        }

        return new EncounterMapping(encounter, key);
    }

    /// <summary>The first segment <paramref name="id"/> after <paramref name="start"/> before the next PID or PV1 (its group).</summary>
    public static Hl7Segment? InGroup(Hl7Message message, Hl7Segment start, string id)
    {
        for (int i = start.Index + 1; i < message.SegmentCount; i++)
        {
            Hl7Segment segment = message[i];
            string segmentId = segment.Id;
            if (segmentId == id)
            {
                return segment;
            }

            if (segmentId is "PID" or "PV1" or "MSH")
            {
                return null;
            }
        }

        return null;
    }

    /// <summary>PV1-19 as an identifier of type VN in the Trust's visit-number system.</summary>
    public static Identifier? VisitNumber(MappingContext context, Hl7Segment pv1) =>
        CxMapper.ToLocalIdentifier(pv1.Field(19).Repetition(1), context.SendingFacility, context.Profile, "VN", context.Profile.VisitNumberSystem);

    private static void Locations(MappingContext context, Hl7Segment pv1, Encounter encounter, string? patientClass, bool priorCompleted)
    {
        if (PlMapper.Map(context, pv1.Field(3).Repetition(1), "PV1", 3) is { } current)
        {
            encounter.Location.Add(new Encounter.LocationComponent
            {
                Location = new ResourceReference(current),
                Status = patientClass == "P" ? Encounter.EncounterLocationStatus.Planned : Encounter.EncounterLocationStatus.Active,
            });
        }

        if (priorCompleted && PlMapper.Map(context, pv1.Field(6).Repetition(1), "PV1", 6) is { } prior && prior != encounter.Location.FirstOrDefault()?.Location.Reference)
        {
            encounter.Location.Add(new Encounter.LocationComponent
            {
                Location = new ResourceReference(prior),
                Status = Encounter.EncounterLocationStatus.Completed,
            });
        }
    }

    private static void Participants(MappingContext context, Hl7Segment pv1, Encounter encounter)
    {
        (int Field, string Code, string Display)[] roles =
        [
            (7, "ATND", "attender"), (8, "REF", "referrer"), (9, "CON", "consultant"), (17, "ADM", "admitter"),
        ];
        foreach ((int field, string code, string display) in roles)
        {
            Hl7Value xcns = pv1.Field(field);
            for (int r = 1; r <= xcns.RepetitionCount; r++)
            {
                if (XcnMapper.ToReference(xcns.Repetition(r), context.Profile, context.SendingFacility) is { } who)
                {
                    encounter.Participant.Add(new Encounter.ParticipantComponent
                    {
                        Type = [new CodeableConcept(UkCore.V3ParticipationType, code, display, null)],
                        Individual = who,
                    });
                }
            }
        }
    }

    private static void Hospitalization(MappingContext context, Hl7Segment pv1, Encounter encounter)
    {
        var hospitalization = new Encounter.HospitalizationComponent();
        bool uk = context.Profile.FacilitiesAreOdsCodes;
        string? method = V2Text.First(pv1.Field(4));
        if (method is not null)
        {
            if (uk && UkCore.AdmissionMethods.Contains(method))
            {
                hospitalization.Extension.Add(new Extension(UkCore.AdmissionMethodExtension,
                    new CodeableConcept(UkCore.AdmissionMethodSystem, method)));
            }
            else
            {
                encounter.Type.Add(new CodeableConcept("http://terminology.hl7.org/CodeSystem/v2-0007", method));
            }
        }

        string? source = V2Text.First(pv1.Field(14));
        if (source is not null)
        {
            hospitalization.AdmitSource = uk && UkCore.AdmissionSources.Contains(source)
                ? new CodeableConcept(UkCore.SourceOfAdmissionSystem, source)
                : new CodeableConcept("http://terminology.hl7.org/CodeSystem/v2-0023", source);
        }

        string? destination = V2Text.First(pv1.Field(36));
        if (destination is not null)
        {
            hospitalization.DischargeDisposition = uk && UkCore.DischargeDestinations.Contains(destination)
                ? new CodeableConcept(UkCore.DischargeDestinationSystem, destination)
                : new CodeableConcept("http://terminology.hl7.org/CodeSystem/v2-0112", destination);
        }

        if (hospitalization.Extension.Count > 0 || hospitalization.AdmitSource is not null || hospitalization.DischargeDisposition is not null)
        {
            encounter.Hospitalization = hospitalization;
        }
    }
}
