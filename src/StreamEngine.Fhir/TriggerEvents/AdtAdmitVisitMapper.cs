using Hl7.Fhir.Model;
using StreamEngine.Fhir.Segments;

namespace StreamEngine.Fhir.TriggerEvents;

/// <summary>
/// ADT A01 (admit), A04 (register) and A08 (update): upsert the Patient on the Trust MRN and the Encounter on the
/// visit number, the Encounter referring to the Patient.
/// </summary>
public sealed class AdtAdmitVisitMapper : ITriggerEventMapper
{
    /// <inheritdoc />
    public IReadOnlyCollection<string> Events { get; } = ["ADT^A01", "ADT^A04", "ADT^A08"];

    /// <inheritdoc />
    public Bundle? Map(MappingContext context, TransactionBundleBuilder bundle)
    {
        if (PidMapper.Map(context) is not { } patient)
        {
            return null;
        }

        string patientUrl = bundle.AddUpsert(patient.Patient, patient.Key);

        // A01 admits; A04 registers an outpatient or ED attendance that has started; A08 updates a current visit.
        if (Pv1Mapper.Map(context, Encounter.EncounterStatus.InProgress) is { } encounter)
        {
            encounter.Encounter.Subject = new ResourceReference(patientUrl);
            bundle.AddUpsert(encounter.Encounter, encounter.Key);
        }

        return bundle.Build();
    }
}
