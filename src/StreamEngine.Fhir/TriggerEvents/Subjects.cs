using Hl7.Fhir.Model;
using StreamEngine.Fhir.Segments;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.TriggerEvents;

/// <summary>
/// The Patient and Encounter a message is about. ADT messages own them and upsert them (conditional PUT); every other
/// message type refers to them by a conditional create, so it never overwrites the fuller ADT record.
/// </summary>
public static class Subjects
{
    /// <summary>Maps PID (and the PD1 after it) and adds the Patient; null with an error when it cannot be keyed.</summary>
    public static PatientMapping? AddPatient(MappingContext context, Hl7Segment pid, bool upsert)
    {
        if (PidMapper.Map(context, pid) is not { } mapping)
        {
            return null;
        }

        if (NextSegment(context.Message, pid, "PD1") is { } pd1)
        {
            Pd1Mapper.Map(context, pd1, mapping.Patient);
        }

        context.Patient = mapping.Patient;
        context.Patients.Add((pid.Index, mapping.Patient));
        context.PatientUrl = upsert
            ? context.Bundle.AddUpsert(mapping.Patient, mapping.Key)
            : context.Bundle.AddCreateIfAbsent(mapping.Patient, mapping.Key);
        context.Encounter = null;
        context.EncounterUrl = null;
        return mapping;
    }

    /// <summary>
    /// For message types that refer to the ADT record: the first PID's Patient and its PV1's Encounter, both created
    /// only if absent. False (with an error in the context) when there is no usable PID.
    /// </summary>
    public static bool AddReferencedSubjects(MappingContext context, Encounter.EncounterStatus status)
    {
        if (RequirePid(context) is not { } pid || AddPatient(context, pid, upsert: false) is null)
        {
            return false;
        }

        if (context.Message.FindSegment("PV1") is { } pv1)
        {
            AddEncounter(context, pv1, status, upsert: false);
        }

        return true;
    }

    /// <summary>Finds the first PID; records MissingPid when there is none.</summary>
    public static Hl7Segment? RequirePid(MappingContext context)
    {
        if (context.Message.FindSegment("PID") is { } pid)
        {
            return pid;
        }

        context.Fail(MappingIssueCode.MissingPid, "PID", 0);
        return null;
    }

    /// <summary>Maps PV1 and adds the Encounter (upsert for ADT, create-if-absent otherwise).</summary>
    public static EncounterMapping? AddEncounter(MappingContext context, Hl7Segment pv1, Encounter.EncounterStatus status, bool upsert, bool priorLocationCompleted = false)
    {
        if (Pv1Mapper.Map(context, pv1, status, priorLocationCompleted) is not { } mapping)
        {
            return null;
        }

        context.Encounter = mapping.Encounter;
        context.Encounters.Add((pv1.Index, mapping.Encounter));
        context.EncounterUrl = upsert
            ? context.Bundle.AddUpsert(mapping.Encounter, mapping.Key)
            : context.Bundle.AddCreateIfAbsent(mapping.Encounter, mapping.Key);
        return mapping;
    }

    /// <summary>The segment with the given id directly after <paramref name="after"/> (ignoring none), or null.</summary>
    public static Hl7Segment? NextSegment(Hl7Message message, Hl7Segment after, string id)
    {
        int next = after.Index + 1;
        return next < message.SegmentCount && message[next].Id == id ? message[next] : null;
    }

    /// <summary>Parses an encounter status code.</summary>
    public static Encounter.EncounterStatus ParseStatus(string code) => code switch
    {
        "planned" => Encounter.EncounterStatus.Planned,
        "arrived" => Encounter.EncounterStatus.Arrived,
        "triaged" => Encounter.EncounterStatus.Triaged,
        "onleave" => Encounter.EncounterStatus.Onleave,
        "finished" => Encounter.EncounterStatus.Finished,
        "cancelled" => Encounter.EncounterStatus.Cancelled,
        "entered-in-error" => Encounter.EncounterStatus.EnteredInError,
        "unknown" => Encounter.EncounterStatus.Unknown,
        _ => Encounter.EncounterStatus.InProgress,
    };
}
