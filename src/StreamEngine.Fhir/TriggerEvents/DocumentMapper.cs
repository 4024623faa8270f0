using Hl7.Fhir.Model;
using StreamEngine.Fhir.Segments;

namespace StreamEngine.Fhir.TriggerEvents;

/// <summary>
/// MDM^T01-T11 (medical documents): the DocumentReference upserted on the unique document number (TXA-12), with the
/// embedded document from the OBX segments (T02, T04, T06, T08, T10) or as a notification (T01, T03...). The
/// Patient and Encounter are referred to by conditional create.
/// </summary>
public sealed class DocumentMapper : ITriggerEventMapper
{
    /// <inheritdoc />
    public IReadOnlyCollection<string> Events { get; } =
        ["MDM^T01", "MDM^T02", "MDM^T03", "MDM^T04", "MDM^T05", "MDM^T06", "MDM^T07", "MDM^T08", "MDM^T09", "MDM^T10", "MDM^T11"];

    /// <inheritdoc />
    public void Map(MappingContext context)
    {
        if (context.Message.FindSegment("TXA") is not { } txa)
        {
            context.Fail(MappingIssueCode.MissingSegment, "TXA", 0);
            return;
        }

        if (!Subjects.AddReferencedSubjects(context, Encounter.EncounterStatus.InProgress))
        {
            return;
        }

        TxaMapper.Map(context, txa);
    }
}
