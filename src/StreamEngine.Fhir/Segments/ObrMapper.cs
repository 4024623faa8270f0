using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>
/// OBR to DiagnosticReport (results), per the IG's OBR[DiagnosticReport] map and UK Core DiagnosticReport-Lab:
/// placer and filler identifiers, code, effective time or period, issued, status, the laboratory category.
/// </summary>
public static class ObrMapper
{
    /// <summary>Builds the report (not yet added: its results are added as the OBX segments are read).</summary>
    public static (DiagnosticReport Report, Identifier Key) Map(MappingContext context, Hl7Segment obr, OrderNumbers numbers)
    {
        // OBR-24 decides whether this is a laboratory report (UK Core DiagnosticReport-Lab, category LAB) or another kind
        // (radiology, ECG …: the base profile, its section as the category).
        SectionKind kind = context.SectionOf(obr);
        bool laboratory = kind == SectionKind.Laboratory;
        bool noSection = V2Text.First(obr.Field(24)) is null;
        var report = new DiagnosticReport
        {
            Meta = UkCore.Meta(laboratory ? UkCore.DiagnosticReportLabProfile : UkCore.DiagnosticReportProfile),
            Subject = context.PatientReference,
            Encounter = context.EncounterReference,
            // The section as given is added below; one the profile implies for an empty OBR-24 is named here.
            Category = laboratory ? [new CodeableConcept(UkCore.V2_0074, "LAB", "Laboratory", null)]
                : kind == SectionKind.Imaging && noSection ? [new CodeableConcept(UkCore.V2_0074, "RAD", "Radiology", null)]
                : [],
        };
        report.Identifier.AddRange(numbers.All());
        Identifier key = numbers.Filler ?? numbers.Placer ?? context.PositionalIdentifier("report", obr);
        if (report.Identifier.Count == 0)
        {
            report.Identifier.Add(key);
        }

        report.Code = context.Concept(obr.Field(4), "OBR", 4) ?? Unknown(context, "OBR", 4);
        if (context.Concept(obr.Field(24), "OBR", 24) is { } section && section.Coding.Count > 0)
        {
            section.Coding[0].System ??= UkCore.V2_0074;
            if (!(section.Coding[0].System == UkCore.V2_0074 && string.Equals(section.Coding[0].Code, "LAB", StringComparison.OrdinalIgnoreCase)))
            {
                report.Category.Add(section);
            }
        }

        string? start = context.DateTime(obr, 7);
        string? end = context.DateTime(obr, 8);
        if (start is not null && end is not null)
        {
            report.Effective = new Period { Start = start, End = end };
        }
        else if (start is not null)
        {
            report.Effective = new FhirDateTime(start);
        }

        if (context.Instant(obr, 22) is { } issued)
        {
            report.Issued = issued;
        }

        string? status = V2Text.First(obr.Field(25));
        report.Status = V2Vocabulary.ReportStatus.Lookup(status)?.Code switch
        {
            "registered" => DiagnosticReport.DiagnosticReportStatus.Registered,
            "preliminary" => DiagnosticReport.DiagnosticReportStatus.Preliminary,
            "corrected" => DiagnosticReport.DiagnosticReportStatus.Corrected,
            "partial" => DiagnosticReport.DiagnosticReportStatus.Partial,
            "final" => DiagnosticReport.DiagnosticReportStatus.Final,
            "cancelled" => DiagnosticReport.DiagnosticReportStatus.Cancelled,
            _ => status == "A" ? DiagnosticReport.DiagnosticReportStatus.Partial : DiagnosticReport.DiagnosticReportStatus.Unknown,
        };

        if (numbers.Placer is { } placer)
        {
            report.BasedOn.Add(new ResourceReference { Type = "ServiceRequest", Identifier = placer });
        }

        // OBR-32 is NDL: its first component is a CNN whose parts are subcomponents (id & family & given ...).
        Hl7Value interpreter = obr.Field(32).Repetition(1).Component(1);
        if (V2Text.Of(interpreter.Subcomponent(1)) is { } interpreterId)
        {
            string? name = string.Join(' ', new[] { V2Text.Of(interpreter.Subcomponent(3)), V2Text.Of(interpreter.Subcomponent(2)) }.Where(n => n is not null));
            report.ResultsInterpreter.Add(new ResourceReference
            {
                Type = "Practitioner",
                Identifier = XcnMapper.ToIdentifier(interpreterId, V2Text.Of(interpreter.Subcomponent(9)), context.SendingFacility, null, context.Profile),
                Display = name.Length > 0 ? name : null,
            });
        }

        return (report, key);
    }

    /// <summary>A required code the message does not give: data-absent-reason unknown, with a warning.</summary>
    public static CodeableConcept Unknown(MappingContext context, string segment, int field)
    {
        context.Warn(MappingIssueCode.MissingRequiredValue, segment, field);
        return new CodeableConcept(UkCore.DataAbsentReason, "unknown", "Unknown", null);
    }
}
