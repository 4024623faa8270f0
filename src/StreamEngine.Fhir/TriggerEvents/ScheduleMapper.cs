using System.Collections.Frozen;
using Hl7.Fhir.Model;
using StreamEngine.Fhir.Segments;

namespace StreamEngine.Fhir.TriggerEvents;

/// <summary>
/// SIU^S12-S26 (scheduling): the Appointment upserted on the filler (else placer) appointment id, with the status the
/// event implies (S12-S14 booked, S15/S16 cancelled, S17 entered in error, S26 no-show; other events from SCH-25).
/// The Patient and Encounter are referred to by conditional create.
/// </summary>
public sealed class ScheduleMapper : ITriggerEventMapper
{
    private static readonly FrozenDictionary<string, Appointment.AppointmentStatus?> Statuses = new Dictionary<string, Appointment.AppointmentStatus?>
    {
        ["S12"] = Appointment.AppointmentStatus.Booked, // new booking
        ["S13"] = Appointment.AppointmentStatus.Booked, // rescheduled
        ["S14"] = null, // modification: SCH-25 says
        ["S15"] = Appointment.AppointmentStatus.Cancelled, // cancellation
        ["S16"] = Appointment.AppointmentStatus.Cancelled, // discontinuation
        ["S17"] = Appointment.AppointmentStatus.EnteredInError, // deletion
        ["S18"] = null,
        ["S19"] = null,
        ["S20"] = null,
        ["S21"] = null,
        ["S22"] = null,
        ["S23"] = null,
        ["S24"] = null,
        ["S25"] = null,
        ["S26"] = Appointment.AppointmentStatus.Noshow, // patient did not attend
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <inheritdoc />
    public IReadOnlyCollection<string> Events { get; } = Statuses.Keys.Select(e => "SIU^" + e).ToArray();

    /// <inheritdoc />
    public void Map(MappingContext context)
    {
        if (context.Message.FindSegment("SCH") is not { } sch)
        {
            context.Fail(MappingIssueCode.MissingSegment, "SCH", 0);
            return;
        }

        if (!Subjects.AddReferencedSubjects(context, Encounter.EncounterStatus.Planned))
        {
            return;
        }

        SchMapper.Map(context, sch, Statuses.GetValueOrDefault(context.Message.TriggerEvent));
    }
}
