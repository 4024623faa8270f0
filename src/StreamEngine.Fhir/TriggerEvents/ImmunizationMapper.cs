using Hl7.Fhir.Model;
using StreamEngine.Fhir.Segments;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.TriggerEvents;

/// <summary>
/// VXU^V04 (vaccination record update): one Immunization per RXA (with the ORC before it and the RXR after it). The
/// Patient is referred to by conditional create.
/// </summary>
public sealed class ImmunizationMapper : ITriggerEventMapper
{
    /// <inheritdoc />
    public IReadOnlyCollection<string> Events { get; } = ["VXU^V04"];

    /// <inheritdoc />
    public void Map(MappingContext context)
    {
        if (!Subjects.AddReferencedSubjects(context, Encounter.EncounterStatus.InProgress))
        {
            return;
        }

        Hl7Segment? orc = null;
        int count = 0;
        foreach (Hl7Segment segment in context.Message)
        {
            if (segment.Id == "ORC")
            {
                orc = segment;
            }
            else if (segment.Id == "RXA")
            {
                RxaMapper.Map(context, segment, orc, Subjects.NextSegment(context.Message, segment, "RXR"));
                count++;
            }
        }

        if (count == 0)
        {
            context.Fail(MappingIssueCode.MissingSegment, "RXA", 0);
        }
    }
}
