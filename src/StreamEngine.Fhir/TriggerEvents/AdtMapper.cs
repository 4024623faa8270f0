using System.Collections.Frozen;
using Hl7.Fhir.Model;
using StreamEngine.Fhir.Segments;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.TriggerEvents;

/// <summary>
/// ADT events: upsert the Patient on the Trust MRN and the Encounter on the visit number, with the encounter status
/// the event implies (the IG's Event[EncounterStatus] table, A04/A08 configurable per Trust; PV1-45 means finished),
/// plus next of kin, allergies, diagnoses, procedures, insurance and observations. Person-level events (A28, A31,
/// PV1-2 = N) give no Encounter.
/// </summary>
public sealed class AdtMapper : ITriggerEventMapper
{
    private static readonly FrozenDictionary<string, Encounter.EncounterStatus> Statuses = new Dictionary<string, Encounter.EncounterStatus>
    {
        ["A01"] = Encounter.EncounterStatus.InProgress, // admit
        ["A02"] = Encounter.EncounterStatus.InProgress, // transfer
        ["A03"] = Encounter.EncounterStatus.Finished, // discharge
        ["A04"] = Encounter.EncounterStatus.InProgress, // register: an ED or outpatient attendance that has started (IG: planned; configurable)
        ["A05"] = Encounter.EncounterStatus.Planned, // pre-admit
        ["A06"] = Encounter.EncounterStatus.InProgress, // outpatient -> inpatient
        ["A07"] = Encounter.EncounterStatus.InProgress, // inpatient -> outpatient
        ["A08"] = Encounter.EncounterStatus.InProgress, // update (IG: unknown; PV1-45 makes it finished; configurable)
        ["A09"] = Encounter.EncounterStatus.InProgress, // patient departing (tracking)
        ["A10"] = Encounter.EncounterStatus.InProgress, // patient arriving (tracking)
        ["A11"] = Encounter.EncounterStatus.Cancelled, // cancel admit / visit
        ["A12"] = Encounter.EncounterStatus.InProgress, // cancel transfer
        ["A13"] = Encounter.EncounterStatus.InProgress, // cancel discharge
        ["A14"] = Encounter.EncounterStatus.Planned, // pending admit
        ["A15"] = Encounter.EncounterStatus.InProgress, // pending transfer
        ["A16"] = Encounter.EncounterStatus.InProgress, // pending discharge
        ["A17"] = Encounter.EncounterStatus.InProgress, // swap patients
        ["A21"] = Encounter.EncounterStatus.Onleave, // leave of absence out
        ["A22"] = Encounter.EncounterStatus.InProgress, // back from leave of absence
        ["A25"] = Encounter.EncounterStatus.InProgress, // cancel pending discharge
        ["A26"] = Encounter.EncounterStatus.InProgress, // cancel pending transfer
        ["A27"] = Encounter.EncounterStatus.Cancelled, // cancel pending admit
        ["A28"] = Encounter.EncounterStatus.InProgress, // add person (no encounter unless PV1 says otherwise)
        ["A29"] = Encounter.EncounterStatus.InProgress, // delete person information
        ["A31"] = Encounter.EncounterStatus.InProgress, // update person
        ["A32"] = Encounter.EncounterStatus.InProgress, // cancel patient arriving
        ["A33"] = Encounter.EncounterStatus.InProgress, // cancel patient departing
        ["A38"] = Encounter.EncounterStatus.Cancelled, // cancel pre-admit
        ["A41"] = Encounter.EncounterStatus.InProgress, // merge account
        ["A42"] = Encounter.EncounterStatus.InProgress, // merge visit
        ["A43"] = Encounter.EncounterStatus.InProgress, // move patient information
        ["A44"] = Encounter.EncounterStatus.InProgress, // move account information
        ["A45"] = Encounter.EncounterStatus.InProgress, // move visit information
        ["A46"] = Encounter.EncounterStatus.InProgress, // change patient id
        ["A49"] = Encounter.EncounterStatus.InProgress, // change patient account number
        ["A50"] = Encounter.EncounterStatus.InProgress, // change visit number
        ["A60"] = Encounter.EncounterStatus.InProgress, // update adverse reaction information
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <inheritdoc />
    public IReadOnlyCollection<string> Events { get; } = Statuses.Keys.Select(e => "ADT^" + e).ToArray();

    /// <inheritdoc />
    public void Map(MappingContext context) => MapPatientAndVisit(context, owner: true);

    /// <summary>
    /// The Patient, Encounter and detail segments of an ADT-like message; returns the Patient mapping. The
    /// <paramref name="owner"/> (ADT) upserts Patient and Encounter; others (BAR, DFT) create them only if absent.
    /// </summary>
    public static PatientMapping? MapPatientAndVisit(MappingContext context, bool owner)
    {
        if (Subjects.RequirePid(context) is not { } pid || Subjects.AddPatient(context, pid, upsert: owner) is not { } patient)
        {
            return null;
        }

        string trigger = context.Message.TriggerEvent;
        foreach (Hl7Segment segment in context.Message)
        {
            switch (segment.Id)
            {
                case "PID" when segment.Index != pid.Index:
                    // A17 (swap) and BAR/DFT batches of accounts carry more than one patient group.
                    Subjects.AddPatient(context, segment, upsert: owner);
                    break;
                case "NK1":
                    Nk1Mapper.Map(context, segment);
                    break;
                case "PV1" when trigger is "A28" or "A31" or "A29":
                    break; // person-level events: never an Encounter, whatever PV1 says
                case "PV1" when context.EncounterUrl is null || !owner: // BAR/DFT repeat the visit group
                    Encounter.EncounterStatus status = context.Profile.EncounterStatus.TryGetValue(trigger, out string? configured)
                        ? Subjects.ParseStatus(configured)
                        : Statuses.GetValueOrDefault(trigger, Encounter.EncounterStatus.InProgress);
                    if (Subjects.AddEncounter(context, segment, status, upsert: owner, priorLocationCompleted: trigger == "A02") is { } encounter && trigger == "A13")
                    {
                        // Cancel discharge: the spell is open again, whatever PV1-45 still says.
                        encounter.Encounter.Status = Encounter.EncounterStatus.InProgress;
                        if (encounter.Encounter.Period is { } period)
                        {
                            period.End = null;
                        }
                    }

                    break;
                case "AL1":
                    Al1Mapper.Map(context, segment);
                    break;
                case "DG1":
                    Dg1Mapper.Map(context, segment);
                    break;
                case "PR1":
                    Pr1Mapper.Map(context, segment);
                    break;
                case "IN1":
                    In1Mapper.Map(context, segment);
                    break;
                case "OBX":
                    ObxMapper.Map(context, segment, new ObservationGroup { Laboratory = false });
                    break;
            }
        }

        return patient;
    }
}
