using Hl7.Fhir.Model;
using StreamEngine.Fhir.Segments;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.TriggerEvents;

/// <summary>
/// ORM^O01, OML^O21/O33/O35 and OMG^O19 (orders): per ORC (with its OBR), a ServiceRequest upserted on the placer
/// (else filler) number, its Specimens (SPM) and supporting Observations (OBX); NTE become notes. The Patient and
/// Encounter are referred to by conditional create.
/// </summary>
public sealed class OrderMapper : ITriggerEventMapper
{
    /// <inheritdoc />
    public IReadOnlyCollection<string> Events { get; } = ["ORM^O01", "OML^O21", "OML^O33", "OML^O35", "OMG^O19"];

    /// <inheritdoc />
    public void Map(MappingContext context)
    {
        if (Subjects.RequirePid(context) is null)
        {
            return;
        }

        Hl7Message message = context.Message;
        bool patientOk = true;
        Hl7Segment? orc = null;
        Hl7Segment? obr = null;
        ServiceRequest? current = null;
        Identifier? currentKey = null;
        ObservationGroup group = new() { Laboratory = false };
        foreach (Hl7Segment segment in message)
        {
            switch (segment.Id)
            {
                case "PID":
                    Flush(context, ref current, currentKey);
                    patientOk = Subjects.AddPatient(context, segment, upsert: false) is not null;
                    break;
                case "PV1" when patientOk:
                    Subjects.AddEncounter(context, segment, Encounter.EncounterStatus.InProgress, upsert: false);
                    break;
                case "ORC" when patientOk:
                    Flush(context, ref current, currentKey);
                    orc = segment;
                    obr = null;
                    (current, currentKey) = OrcMapper.Map(context, orc, null, OrderNumbers.Read(context, null, orc), segment);
                    group = new ObservationGroup { Laboratory = false, OrderKey = currentKey };
                    break;
                case "OBR" when patientOk:
                    if (current is not null && obr is not null)
                    {
                        // A second OBR under one ORC (or without one) is an order of its own.
                        Flush(context, ref current, currentKey);
                        orc = null;
                    }

                    obr = segment;
                    (current, currentKey) = OrcMapper.Map(context, orc, obr, OrderNumbers.Read(context, obr, orc), segment);
                    group = new ObservationGroup { Laboratory = false, OrderKey = currentKey, Effective = context.DateTime(segment, 7) };
                    break;
                case "SPM" when current is not null:
                    current.Specimen.Add(new ResourceReference(SpmMapper.Map(context, segment)));
                    break;
                case "OBX" when current is not null:
                    if (ObxMapper.Map(context, segment, group) is { } observation)
                    {
                        current.SupportingInfo.Add(new ResourceReference(observation));
                    }

                    break;
                case "NTE" when current is not null:
                    if (ObxMapper.NoteText(segment) is { } note)
                    {
                        current.Note.Add(new Annotation { Text = note });
                    }

                    break;
                case "DG1" when current is not null:
                    if (context.Concept(segment.Field(3), "DG1", 3) is { } reason)
                    {
                        current.ReasonCode.Add(reason);
                    }

                    break;
            }
        }

        Flush(context, ref current, currentKey);
    }

    private static void Flush(MappingContext context, ref ServiceRequest? request, Identifier? key)
    {
        if (request is not null && key is not null)
        {
            context.Bundle.AddUpsert(request, key);
        }

        request = null;
    }
}
