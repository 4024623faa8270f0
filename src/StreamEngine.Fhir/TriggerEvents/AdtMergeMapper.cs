using StreamEngine.Fhir.Segments;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.TriggerEvents;

/// <summary>
/// A40 (merge patient - patient identifier list), A34 (merge patient ID only) and A47 (change patient identifier
/// list): the surviving Patient (PID) is upserted with <c>link.type = replaces</c>; the record named in MRG-1 is
/// upserted inactive with <c>link.type = replaced-by</c>. An A40 does not change demographics (HL7 UK), so no
/// Encounter is touched.
/// </summary>
public sealed class AdtMergeMapper : ITriggerEventMapper
{
    /// <inheritdoc />
    public IReadOnlyCollection<string> Events { get; } = ["ADT^A34", "ADT^A40", "ADT^A47"];

    /// <inheritdoc />
    public void Map(MappingContext context)
    {
        if (Subjects.RequirePid(context) is null)
        {
            return;
        }

        // ADT_A39 repeats the PATIENT group (PID, PD1, MRG, PV1): one merge per pair.
        PatientMapping? survivor = null;
        int merges = 0;
        foreach (Hl7Segment segment in context.Message)
        {
            if (segment.Id == "PID")
            {
                survivor = Subjects.AddPatient(context, segment, upsert: true);
            }
            else if (segment.Id == "MRG" && survivor is not null)
            {
                MrgMapper.Map(context, segment, survivor.Patient, context.PatientUrl!);
                merges++;
            }
        }

        if (merges == 0 && survivor is not null)
        {
            context.Fail(MappingIssueCode.MissingSegment, "MRG", 0);
        }
    }
}
