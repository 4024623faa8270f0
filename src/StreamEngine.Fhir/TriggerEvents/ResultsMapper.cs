using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Segments;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.TriggerEvents;

/// <summary>
/// ORU^R01 and OUL^R22/R23/R24 (unsolicited results): per order group, a DiagnosticReport upserted on the filler
/// (else placer) number with its Observations (one per OBX) and Specimens; the Patient and Encounter are referred
/// to by conditional create. OBX segments outside any OBR become standalone Observations.
/// </summary>
public sealed class ResultsMapper : ITriggerEventMapper
{
    /// <inheritdoc />
    public IReadOnlyCollection<string> Events { get; } = ["ORU^R01", "ORU^R30", "OUL^R21", "OUL^R22", "OUL^R23", "OUL^R24"];

    /// <inheritdoc />
    public void Map(MappingContext context)
    {
        if (Subjects.RequirePid(context) is null)
        {
            return;
        }

        Hl7Message message = context.Message;
        Hl7Segment? orc = null;
        DiagnosticReport? report = null;
        Identifier? reportKey = null;
        ObservationGroup group = new() { Laboratory = true };
        Observation? lastObservation = null;
        bool rightAfterObr = false; // an NTE here is the report's note
        bool patientOk = true;
        foreach (Hl7Segment segment in message)
        {
            switch (segment.Id)
            {
                case "PID":
                    Flush(context, ref report, reportKey);
                    lastObservation = null; // a note after this belongs to nothing of the previous patient
                    rightAfterObr = false;
                    patientOk = Subjects.AddPatient(context, segment, upsert: false) is not null;
                    break;
                case "PV1" when patientOk:
                    Subjects.AddEncounter(context, segment, Encounter.EncounterStatus.InProgress, upsert: false);
                    break;
                case "ORC":
                    Flush(context, ref report, reportKey);
                    lastObservation = null;
                    rightAfterObr = false;
                    orc = segment;
                    break;
                case "OBR" when patientOk:
                    Flush(context, ref report, reportKey);
                    OrderNumbers numbers = OrderNumbers.Read(context, segment, orc);
                    (report, reportKey) = ObrMapper.Map(context, segment, numbers);
                    SectionKind kind = context.SectionOf(segment);
                    group = new ObservationGroup
                    {
                        OrderKey = numbers.Filler ?? numbers.Placer,
                        Effective = context.DateTime(segment, 7),
                        Issued = report.Issued,
                        Laboratory = kind == SectionKind.Laboratory,
                        Imaging = kind == SectionKind.Imaging,
                    };
                    lastObservation = null;
                    rightAfterObr = true;
                    orc = null;
                    break;
                case "SPM" when patientOk:
                    lastObservation = null;
                    rightAfterObr = false;
                    string specimen = SpmMapper.Map(context, segment);
                    group.Specimens.Add(specimen);
                    report?.Specimen.Add(new ResourceReference(specimen));
                    break;
                case "OBX" when patientOk:
                    rightAfterObr = false; // a note after a skipped OBX is not the report's
                    string? url = ObxMapper.Map(context, segment, group);
                    lastObservation = url is null ? null : context.Bundle.Find(url) as Observation;
                    if (url is not null)
                    {
                        report?.Result.Add(new ResourceReference(url));
                    }

                    break;
                case "NTE" when lastObservation is not null:
                    ObxMapper.AddNote(lastObservation, segment);
                    break;
                case "NTE" when rightAfterObr && report is not null && ObxMapper.NoteText(segment) is { } reportNote:
                    // A note on the order's report (right after its OBR): R4 DiagnosticReport has no note, so UK Core's
                    // adopted R5 element, as an extension (Extension-UKCore-DiagnosticReportNote).
                    report.Extension.Add(new Extension(UkCore.DiagnosticReportNoteExtension, new Annotation { Text = reportNote }));
                    break;
            }
        }

        Flush(context, ref report, reportKey);
    }

    private static void Flush(MappingContext context, ref DiagnosticReport? report, Identifier? key)
    {
        if (report is not null && key is not null)
        {
            context.Bundle.AddUpsert(report, key);
        }

        report = null;
    }
}
