using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Profiles;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>
/// Applies the Trust profile's Z-segment rules (e.g. ZU1-27 tracing status, ZU3-4 outcome of attendance, ZU8-4
/// location hiding, a Trust's own ZPI) to the message's Patient and Encounter. Z segments without a rule are left
/// out of the FHIR output (they stay in the journaled message).
/// </summary>
public static class ZSegmentMapper
{
    /// <summary>Applies every rule whose segment is present.</summary>
    public static void Apply(MappingContext context)
    {
        foreach (ZSegmentRule rule in context.Profile.ZSegments)
        {
            foreach (Hl7Segment segment in context.Message.Segments(rule.Segment))
            {
                // A Z segment belongs to the patient (and visit) group it follows: never to another patient's.
                Patient? patient = Before(context.Patients, segment.Index);
                Encounter? encounter = Before(context.Encounters, segment.Index);
                DomainResource? target = rule.Resource == "Encounter" ? encounter : patient;
                if (target is null)
                {
                    continue;
                }

                Apply(context, rule, segment, target, patient);
            }
        }
    }

    private static T? Before<T>(List<(int Index, T Resource)> mapped, int index)
        where T : class
    {
        T? found = null;
        foreach ((int at, T resource) in mapped)
        {
            if (at < index)
            {
                found = resource;
            }
        }

        return found;
    }

    private static void Apply(MappingContext context, ZSegmentRule rule, Hl7Segment segment, DomainResource target, Patient? patient)
    {
        Hl7Value field = segment.Field(rule.Field).Repetition(1);
        Hl7Value component = field.Component(rule.Component);
        string? text = V2Text.Of(component);
        if (text is null)
        {
            return;
        }

        switch (rule.Target)
        {
            case ZTargetKind.NhsNumberVerificationStatus:
                if (patient is not null)
                {
                    NhsStatus(context, rule, text, patient);
                }

                break;
            case ZTargetKind.Identifier:
                Identifier(target, rule, text);
                break;
            case ZTargetKind.Security:
                if (rule.When.Contains(text))
                {
                    target.Meta ??= new Meta();
                    target.Meta.Security.Add(new Coding(rule.System ?? UkCore.V3Confidentiality, rule.SecurityCode));
                }

                break;
            case ZTargetKind.Extension:
                if (Value(context, rule, field, text) is { } value)
                {
                    (target is Encounter e && rule.Url == UkCore.AdmissionMethodExtension
                        ? (e.Hospitalization ??= new Encounter.HospitalizationComponent()).Extension
                        : target.Extension).Add(new Extension(rule.Url!, value));
                }
                else
                {
                    context.Warn(MappingIssueCode.InvalidZSegmentValue, rule.Segment, rule.Field);
                }

                break;
        }
    }

    private static void NhsStatus(MappingContext context, ZSegmentRule rule, string text, Patient patient)
    {
        Identifier? nhs = patient.Identifier.Find(i => i.System == NhsNumber.System);
        if (nhs is null)
        {
            return;
        }

        if (VerificationStatus.Code(text) is not { } code)
        {
            context.Warn(MappingIssueCode.UnknownVerificationStatus, rule.Segment, rule.Field);
            return;
        }

        // PID-32 wins over a Z field; a disagreement is reported, not resolved silently.
        Extension? existing = nhs.Extension.Find(e => e.Url == UkCore.NhsNumberVerificationStatusExtension);
        if (existing is null)
        {
            VerificationStatus.Set(nhs, code);
        }
        else if (existing.Value is CodeableConcept current && current.Coding.Count > 0 && current.Coding[0].Code != code)
        {
            context.Warn(MappingIssueCode.ConflictingVerificationStatus, rule.Segment, rule.Field);
        }
    }

    private static void Identifier(DomainResource target, ZSegmentRule rule, string text)
    {
        var identifier = new Identifier(rule.System, text);
        switch (target)
        {
            case Patient p when !p.Identifier.Exists(i => i.System == rule.System && i.Value == text):
                p.Identifier.Add(identifier);
                break;
            case Encounter e when !e.Identifier.Exists(i => i.System == rule.System && i.Value == text):
                e.Identifier.Add(identifier);
                break;
        }
    }

    private static DataType? Value(MappingContext context, ZSegmentRule rule, Hl7Value field, string text) => rule.ValueType switch
    {
        "string" => new FhirString(text),
        "code" => new Code(text),
        "boolean" => text switch { "Y" or "1" or "true" => new FhirBoolean(true), "N" or "0" or "false" => new FhirBoolean(false), _ => null },
        "integer" => int.TryParse(text, out int n) ? new Integer(n) : null,
        "decimal" => QuantityMapper.Number(text) is { } d ? new FhirDecimal(d) : null,
        "dateTime" => V2DateTime.ToFhirDateTime(text) is { } dt ? new FhirDateTime(dt) : null,
        "Coding" => new Coding(rule.System ?? CodingSystems.UriFor(V2Text.Of(field.Component(3)), context.Profile), text, V2Text.Of(field.Component(2))),
        "CodeableConcept" => context.Translate(
            new CodeableConcept(rule.System ?? CodingSystems.UriFor(V2Text.Of(field.Component(3)), context.Profile), text, V2Text.Of(field.Component(2)), null),
            rule.Segment, rule.Field),
        _ => null,
    };
}
