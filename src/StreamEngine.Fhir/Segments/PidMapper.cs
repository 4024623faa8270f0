using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>A mapped Patient and the identifier it is upserted on.</summary>
public sealed record PatientMapping(Patient Patient, Identifier Key);

/// <summary>PID to Patient: identifiers (NHS number with its tracing status), names, birth date, gender.</summary>
public static class PidMapper
{
    /// <summary>
    /// Maps PID. The upsert key is the Trust MRN (first PID-3 repetition of type MR, else the first local
    /// identifier), because it exists before NHS number tracing completes; else the NHS number. Null (with an error
    /// issue) when there is no PID or no identifier at all.
    /// </summary>
    public static PatientMapping? Map(MappingContext context)
    {
        if (context.Message.FindSegment("PID") is not { } pid)
        {
            context.Fail(MappingIssueCode.MissingPid, "PID", 0);
            return null;
        }

        var patient = new Patient { Meta = new Meta { Profile = [UkCore.PatientProfile] } };
        Identifier? mrn = null;
        Identifier? firstLocal = null;
        Identifier? nhsNumber = null;

        Hl7Value pid3 = pid.Field(3);
        for (int r = 1; r <= pid3.RepetitionCount; r++)
        {
            Hl7Value cx = pid3.Repetition(r);
            string authority = cx.Component(4).Subcomponent(1).ToString();
            string type = cx.Component(5).ToString();
            bool claimsNhs = type == "NH" || authority.Equals("NHS", StringComparison.OrdinalIgnoreCase);
            if (claimsNhs)
            {
                string? digits = NhsNumber.Normalise(cx.Component(1).ToString());
                if (digits is not null && nhsNumber is null)
                {
                    nhsNumber = new Identifier(NhsNumber.System, digits);
                    AddVerificationStatus(context, pid, nhsNumber);
                    patient.Identifier.Add(nhsNumber);
                    continue;
                }

                context.Warn(digits is null ? MappingIssueCode.InvalidNhsNumber : MappingIssueCode.DuplicateNhsNumber, "PID", 3);
            }

            if (CxMapper.ToLocalIdentifier(cx, context.SendingFacility) is not { } local)
            {
                continue;
            }

            patient.Identifier.Add(local);
            firstLocal ??= local;
            if (mrn is null && type == "MR")
            {
                mrn = local;
            }
        }

        Identifier? key = mrn ?? firstLocal ?? nhsNumber;
        if (key is null)
        {
            context.Fail(MappingIssueCode.MissingPatientIdentifier, "PID", 3);
            return null;
        }

        Hl7Value pid5 = pid.Field(5);
        for (int r = 1; r <= pid5.RepetitionCount; r++)
        {
            if (XpnMapper.ToHumanName(pid5.Repetition(r)) is { } name)
            {
                patient.Name.Add(name);
            }
        }

        Hl7Value pid7 = pid.Field(7).Component(1);
        if (!pid7.IsEmpty)
        {
            string? birthDate = V2DateTime.ToFhirDate(pid7.ToString());
            if (birthDate is null)
            {
                context.Warn(MappingIssueCode.InvalidDateTime, "PID", 7);
            }
            else
            {
                patient.BirthDate = birthDate;
            }
        }

        Hl7Value pid8 = pid.Field(8).Component(1);
        if (!pid8.IsEmpty)
        {
            patient.Gender = pid8.ToString() switch
            {
                "M" => AdministrativeGender.Male,
                "F" => AdministrativeGender.Female,
                "U" => AdministrativeGender.Unknown,
                "O" or "A" or "N" => AdministrativeGender.Other,
                _ => null,
            };
            if (patient.Gender is null)
            {
                context.Warn(MappingIssueCode.UnknownGender, "PID", 8);
            }
        }

        return new PatientMapping(patient, key);
    }

    private static void AddVerificationStatus(MappingContext context, Hl7Segment pid, Identifier nhsNumber)
    {
        Hl7Value pid32 = pid.Field(32);
        for (int r = 1; r <= pid32.RepetitionCount; r++)
        {
            string code = pid32.Repetition(r).Component(1).ToString();
            if (code.StartsWith("NSTS", StringComparison.Ordinal))
            {
                code = code[4..];
            }

            if (code.Length == 2 && code[0] == '0' && code[1] is >= '1' and <= '8')
            {
                nhsNumber.Extension.Add(new Extension(UkCore.NhsNumberVerificationStatusExtension,
                    new CodeableConcept(UkCore.NhsNumberVerificationStatusSystem, code)));
                return;
            }

            if (code.Length > 0 && !code.StartsWith("PDS", StringComparison.Ordinal) && code is not ("US" or "UD" or "UA" or "AL" or "ED"))
            {
                context.Warn(MappingIssueCode.UnknownVerificationStatus, "PID", 32);
            }
        }
    }
}
