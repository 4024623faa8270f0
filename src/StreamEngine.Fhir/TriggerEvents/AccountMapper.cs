namespace StreamEngine.Fhir.TriggerEvents;

/// <summary>
/// BAR^P01/P02/P05/P06/P12 and DFT^P03/P11 (patient accounting): the clinical content they carry (diagnoses,
/// procedures, insurance) with the Patient and Encounter referred to by conditional create. Charges (FT1) are not
/// mapped: no sink of ours wants them yet.
/// </summary>
public sealed class AccountMapper : ITriggerEventMapper
{
    /// <inheritdoc />
    public IReadOnlyCollection<string> Events { get; } = ["BAR^P01", "BAR^P02", "BAR^P05", "BAR^P06", "BAR^P12", "DFT^P03", "DFT^P11"];

    /// <inheritdoc />
    public void Map(MappingContext context) => AdtMapper.MapPatientAndVisit(context, owner: false);
}
