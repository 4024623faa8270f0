using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Segments;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.TriggerEvents;

/// <summary>
/// RDE^O11/O25 (pharmacy encoded order) and RDS^O13 (dispense): one MedicationRequest per ORC, upserted on the
/// placer (else filler) number, with the medication from RXE-2 (else RXO-1, else RXD-2) and the route from RXR.
/// The Patient and Encounter are referred to by conditional create.
/// </summary>
public sealed class MedicationOrderMapper : ITriggerEventMapper
{
    /// <inheritdoc />
    public IReadOnlyCollection<string> Events { get; } = ["RDE^O01", "RDE^O11", "RDE^O25", "RDS^O13"];

    /// <inheritdoc />
    public void Map(MappingContext context)
    {
        if (!Subjects.AddReferencedSubjects(context, Encounter.EncounterStatus.InProgress))
        {
            return;
        }

        MedicationRequest? current = null;
        Identifier? key = null;
        foreach (Hl7Segment segment in context.Message)
        {
            switch (segment.Id)
            {
                case "ORC":
                    Flush(context, ref current, key);
                    (current, key) = Start(context, segment);
                    break;
                case "RXO" when current is not null:
                    if (current.Medication is null && context.Concept(segment.Field(1), "RXO", 1) is { } ordered)
                    {
                        current.Medication = ordered;
                    }

                    break;
                case "RXE" when current is not null:
                    if (context.Concept(segment.Field(2), "RXE", 2) is { } give)
                    {
                        current.Medication = give;
                    }

                    break;
                case "RXD" when current is not null:
                    if (current.Medication is null && context.Concept(segment.Field(2), "RXD", 2) is { } dispensed)
                    {
                        current.Medication = dispensed;
                    }

                    break;
                case "RXR" when current is not null && current.DosageInstruction.Count == 0:
                    if (context.Concept(segment.Field(1), "RXR", 1) is { } route)
                    {
                        current.DosageInstruction.Add(new Dosage { Route = route });
                    }

                    break;
                case "NTE" when current is not null:
                    if (ObxMapper.NoteText(segment) is { } note)
                    {
                        current.Note.Add(new Annotation { Text = note });
                    }

                    break;
            }
        }

        Flush(context, ref current, key);
    }

    private static (MedicationRequest, Identifier) Start(MappingContext context, Hl7Segment orc)
    {
        (ServiceRequest order, Identifier key) = OrcMapper.Map(context, orc, null, OrderNumbers.Read(context, null, orc), orc);
        var request = new MedicationRequest
        {
            Meta = UkCore.Meta(UkCore.MedicationRequestProfile),
            Intent = MedicationRequest.MedicationRequestIntent.Order,
            Subject = context.PatientReference!,
            Encounter = context.EncounterReference,
            Identifier = order.Identifier,
            AuthoredOn = order.AuthoredOn,
            Requester = order.Requester,
            Status = order.Status switch
            {
                RequestStatus.OnHold => MedicationRequest.MedicationrequestStatus.OnHold,
                RequestStatus.Revoked => MedicationRequest.MedicationrequestStatus.Cancelled,
                RequestStatus.Completed => MedicationRequest.MedicationrequestStatus.Completed,
                RequestStatus.EnteredInError => MedicationRequest.MedicationrequestStatus.EnteredInError,
                RequestStatus.Draft => MedicationRequest.MedicationrequestStatus.Draft,
                RequestStatus.Unknown => MedicationRequest.MedicationrequestStatus.Unknown,
                _ => MedicationRequest.MedicationrequestStatus.Active,
            },
        };
        return (request, key);
    }

    private static void Flush(MappingContext context, ref MedicationRequest? request, Identifier? key)
    {
        if (request is not null && key is not null)
        {
            request.Medication ??= ObrMapper.Unknown(context, "RXE", 2);
            context.Bundle.AddUpsert(request, key);
        }

        request = null;
    }
}
