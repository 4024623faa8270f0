using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>
/// SCH with its AIS (service), AIL (location) and AIP (personnel) to Appointment, per the IG's SCH[Appointment],
/// AIS/AIL/AIP maps: identifiers (placer SCH-1, filler SCH-2), status from the event (S15/S17 cancelled, S26
/// no-show) or SCH-25, start/end from SCH-11 or the resources' start and duration, reason, participants.
/// </summary>
public static class SchMapper
{
    /// <summary>Adds the Appointment upserted on its filler (else placer) appointment id.</summary>
    public static void Map(MappingContext context, Hl7Segment sch, Appointment.AppointmentStatus? eventStatus)
    {
        var appointment = new Appointment { Meta = UkCore.Meta(UkCore.AppointmentProfile) };
        Identifier? placer = EiMapper.ToIdentifier(sch.Field(1), context.Profile, context.SendingFacility, "PLAC");
        Identifier? filler = EiMapper.ToIdentifier(sch.Field(2), context.Profile, context.SendingFacility, "FILL");
        foreach (Identifier? id in new[] { placer, filler })
        {
            if (id is not null)
            {
                appointment.Identifier.Add(id);
            }
        }

        Identifier key = filler ?? placer ?? context.PositionalIdentifier("appointment", sch);
        if (appointment.Identifier.Count == 0)
        {
            appointment.Identifier.Add(key);
        }

        string? fillerStatus = V2Text.First(sch.Field(25));
        appointment.Status = eventStatus ?? (V2Vocabulary.AppointmentStatus.Lookup(fillerStatus)?.Code switch
        {
            "pending" => Appointment.AppointmentStatus.Pending,
            "waitlist" => Appointment.AppointmentStatus.Waitlist,
            "checked-in" => Appointment.AppointmentStatus.CheckedIn,
            "fulfilled" => Appointment.AppointmentStatus.Fulfilled,
            "cancelled" => Appointment.AppointmentStatus.Cancelled,
            "noshow" => Appointment.AppointmentStatus.Noshow,
            "entered-in-error" => Appointment.AppointmentStatus.EnteredInError,
            _ => Appointment.AppointmentStatus.Booked,
        });

        if (context.Concept(sch.Field(7), "SCH", 7) is { } reason)
        {
            appointment.ReasonCode.Add(reason);
        }
        else if (context.Concept(sch.Field(6), "SCH", 6) is { } eventReason)
        {
            appointment.ReasonCode.Add(eventReason);
        }

        if (context.Concept(sch.Field(8), "SCH", 8) is { } type)
        {
            appointment.AppointmentType = type;
        }

        // SCH-11 (TQ): component 4 start, 5 end (v2.5 and before); else SCH-16..: the resources' start and duration.
        DateTimeOffset? start = Instant(sch.Field(11).Repetition(1).Component(4));
        DateTimeOffset? end = Instant(sch.Field(11).Repetition(1).Component(5));
        Hl7Message message = context.Message;
        foreach (Hl7Segment ais in message.Segments("AIS"))
        {
            if (context.Concept(ais.Field(3), "AIS", 3) is { } service)
            {
                appointment.ServiceType.Add(service);
            }

            start ??= Instant(ais.Field(4).Component(1));
            end ??= EndFrom(start, ais.Field(7), ais.Field(8));
        }

        if (context.PatientReference is { } patient)
        {
            appointment.Participant.Add(Participant(patient, "SBJ", "subject"));
        }

        foreach (Hl7Segment ail in message.Segments("AIL"))
        {
            start ??= Instant(ail.Field(6).Component(1));
            end ??= EndFrom(start, ail.Field(9), ail.Field(10));
            if (PlMapper.Map(context, ail.Field(3).Repetition(1), "AIL", 3) is { } location)
            {
                appointment.Participant.Add(Participant(new ResourceReference(location), "LOC", "location"));
            }
        }

        foreach (Hl7Segment aip in message.Segments("AIP"))
        {
            start ??= Instant(aip.Field(6).Component(1));
            end ??= EndFrom(start, aip.Field(9), aip.Field(10));
            Hl7Value people = aip.Field(3);
            for (int r = 1; r <= people.RepetitionCount; r++)
            {
                if (XcnMapper.ToReference(people.Repetition(r), context.Profile, context.SendingFacility) is { } who)
                {
                    appointment.Participant.Add(Participant(who, "PPRF", "primary performer"));
                }
            }
        }

        if (start is not null && end is not null)
        {
            appointment.Start = start;
            appointment.End = end;
        }
        else if (start is not null && appointment.Status is not (Appointment.AppointmentStatus.Proposed or Appointment.AppointmentStatus.Cancelled or Appointment.AppointmentStatus.Waitlist))
        {
            // app-3: start and end are both present or both absent; a booked slot of unknown length gets start only
            // in minutesDuration-free form is not allowed, so the end is the start.
            appointment.Start = start;
            appointment.End = start;
        }

        if (appointment.Start is null && appointment.Status is not (Appointment.AppointmentStatus.Proposed or Appointment.AppointmentStatus.Cancelled or Appointment.AppointmentStatus.Waitlist))
        {
            // app-3: only proposed, cancelled and waitlisted appointments may lack a time.
            context.Warn(MappingIssueCode.MissingRequiredValue, "SCH", 11);
            appointment.Status = Appointment.AppointmentStatus.Proposed;
        }

        // SCH-9 in the unit of SCH-10 (minutes when empty): the IG maps it to minutesDuration when in minutes; other
        // units are converted when they make whole minutes. A unit not known here is not guessed at.
        if (Minutes(sch.Field(9), sch.Field(10)) is { } minutes && minutes >= 1 && minutes <= int.MaxValue && minutes == Math.Floor(minutes))
        {
            appointment.MinutesDuration = (int)minutes;
        }
        else if (V2Text.Of(sch.Field(9)) is not null && MinutesPer(sch.Field(10)) is null)
        {
            context.Warn(MappingIssueCode.UnknownUnit, "SCH", 10);
        }

        if (appointment.Participant.Count == 0)
        {
            appointment.Participant.Add(new Appointment.ParticipantComponent
            {
                Status = ParticipationStatus.NeedsAction,
                Type = [new CodeableConcept(UkCore.V3ParticipationType, "SBJ", "subject", null)],
            });
        }

        context.Bundle.AddUpsert(appointment, key);
    }

    private static Appointment.ParticipantComponent Participant(ResourceReference actor, string code, string display) => new()
    {
        Actor = actor,
        Status = ParticipationStatus.Accepted,
        Type = [new CodeableConcept(UkCore.V3ParticipationType, code, display, null)],
    };

    private static DateTimeOffset? Instant(Hl7Value value) => V2DateTime.ToInstant(V2Text.Of(value));

    private static DateTimeOffset? EndFrom(DateTimeOffset? start, Hl7Value duration, Hl7Value units) =>
        start is not null && Minutes(duration, units) is { } minutes ? start.Value.AddMinutes(minutes) : null;

    // A duration and its unit (CE/CNE: ISO+ or UCUM codes; minutes when empty) in minutes; null when there is none, it
    // is not positive, no appointment is that long (AddMinutes would overflow), or the unit is not a time unit known here.
    private static double? Minutes(Hl7Value duration, Hl7Value units)
    {
        if (QuantityMapper.Number(V2Text.Of(duration)) is not { } amount || amount <= 0 || amount > 1_000_000)
        {
            return null;
        }

        return MinutesPer(units) is { } factor ? (double)Math.Round(amount * factor, 9) : null; // 120 s: 2, not 2.000…004
    }

    // Decimal, so 0.2 hours is 12 minutes exactly. Component 1 is the code; a unit given only as text (^hours) is
    // not guessed at, nor is any code not known here. No unit at all means minutes.
    private static decimal? MinutesPer(Hl7Value units) => (V2Text.First(units) ?? (V2Text.Of(units) is null ? "min" : string.Empty)).ToUpperInvariant() switch
    {
        "S" or "SEC" or "S1" => 1m / 60,
        "MIN" or "MINS" or "MINUTE" or "MINUTES" or "M" => 1,
        "H" or "HR" or "HOUR" or "HOURS" => 60,
        "D" or "DAY" or "DAYS" => 1440,
        _ => null,
    };
}
