using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>A mapped Patient and the identifier it is upserted on.</summary>
public sealed record PatientMapping(Patient Patient, Identifier Key);

/// <summary>
/// PID (and PD1) to Patient, per the IG's PID[Patient] map with UK Core on top: every PID-3 repetition (the NHS
/// number Modulus-11 checked, with its tracing status from PID-32), names, birth date and time, gender, address,
/// telecom, marital status, ethnic category, death.
/// </summary>
public static class PidMapper
{
    /// <summary>
    /// Maps a PID segment. The upsert key is the Trust MRN (the profile's MRN authority and type, else the first
    /// repetition of type MR, else the first local identifier), because it exists before NHS number tracing
    /// completes; else the NHS number. Null (with an error issue) when there is no identifier at all.
    /// </summary>
    public static PatientMapping? Map(MappingContext context, Hl7Segment pid)
    {
        var patient = new Patient { Meta = UkCore.Meta(UkCore.PatientProfile) };
        Identifier? key = Identifiers(context, pid, patient);
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

        BirthDate(context, pid, patient);
        Gender(context, pid, patient);

        Hl7Value pid11 = pid.Field(11);
        for (int r = 1; r <= pid11.RepetitionCount; r++)
        {
            if (XadMapper.ToAddress(pid11.Repetition(r)) is { } address)
            {
                patient.Address.Add(address);
            }
        }

        AddTelecom(patient, pid.Field(13), ContactPoint.ContactPointUse.Home);
        AddTelecom(patient, pid.Field(14), ContactPoint.ContactPointUse.Work);

        string? marital = V2Text.First(pid.Field(16));
        if (marital is not null)
        {
            patient.MaritalStatus = V2Vocabulary.MaritalStatus.Lookup(marital) is { } m
                ? new CodeableConcept(m.System, m.Code, m.Display, null)
                : context.Concept(pid.Field(16), "PID", 16);
        }

        Ethnicity(context, pid, patient);

        string? death = context.DateTime(pid, 29);
        if (death is not null)
        {
            patient.Deceased = new FhirDateTime(death);
        }
        else if (V2Text.First(pid.Field(30)) == "Y")
        {
            patient.Deceased = new FhirBoolean(true);
        }

        return new PatientMapping(patient, key);
    }

    private static Identifier? Identifiers(MappingContext context, Hl7Segment pid, Patient patient)
    {
        Profiles.TrustProfile profile = context.Profile;
        var locals = new List<(Identifier, string, string)>(4);
        Identifier? nhsNumber = null;
        Hl7Value pid3 = pid.Field(3);
        for (int r = 1; r <= pid3.RepetitionCount; r++)
        {
            Hl7Value cx = pid3.Repetition(r);
            string authority = cx.Component(4).Subcomponent(1).ToString();
            string type = cx.Component(5).ToString();
            if (IsNhsNumber(profile, authority, type))
            {
                string? digits = NhsNumber.Normalise(cx.Component(1).ToString());
                if (digits is not null && nhsNumber is null)
                {
                    nhsNumber = new Identifier(NhsNumber.System, digits);
                    patient.Identifier.Add(nhsNumber);
                    continue;
                }

                // Never two NHS numbers, never an invalid one as an NHS number: kept as a plain local identifier.
                context.Warn(digits is null ? MappingIssueCode.InvalidNhsNumber : MappingIssueCode.DuplicateNhsNumber, "PID", 3);
            }

            if (CxMapper.ToLocalIdentifier(cx, context.SendingFacility, profile) is not { } local)
            {
                continue;
            }

            patient.Identifier.Add(local);
            locals.Add((local, authority, type));
        }

        if (nhsNumber is not null)
        {
            VerificationStatus.Apply(context, pid, nhsNumber);
        }

        // PID-2 (external id) and PID-4 (alternate id), backward-compatible fields: kept unless PID-3 already has
        // the value (HL7 UK: a PID-2 must repeat a PID-3 identifier, and is then dropped).
        foreach (int field in (ReadOnlySpan<int>)[2, 4])
        {
            Hl7Value ids = pid.Field(field);
            for (int r = 1; r <= ids.RepetitionCount; r++)
            {
                if (CxMapper.ToLocalIdentifier(ids.Repetition(r), context.SendingFacility, profile) is { } extra
                    && !patient.Identifier.Exists(i => i.Value == extra.Value))
                {
                    patient.Identifier.Add(extra);
                    locals.Add((extra, string.Empty, string.Empty));
                }
            }
        }

        return Key(context, locals, "PID", 3) ?? nhsNumber;
    }

    /// <summary>
    /// True when a CX repetition claims to be the NHS number: its CX.4 is one of the profile's NHS authorities, or it
    /// has no CX.4 and its CX.5 is NH. A Scottish CHI number (<c>^^^CHI^NH</c>) is not an NHS number.
    /// </summary>
    public static bool IsNhsNumber(Profiles.TrustProfile profile, string authority, string type) =>
        profile.NhsNumberAuthorities.Contains(authority) || (authority.Length == 0 && profile.NhsNumberTypes.Contains(type));

    /// <summary>
    /// The upsert key among a patient's local identifiers: the profile's MRN, else the first MR, else the first; a
    /// warning (<see cref="MappingIssueCode.MrnAuthorityNotFound"/> at <paramref name="segment"/>-<paramref name="field"/>)
    /// when the profile names an MRN authority that none of them has.
    /// </summary>
    public static Identifier? Key(MappingContext context, IEnumerable<(Identifier Id, string Authority, string Type)> locals, string segment, int field)
    {
        Profiles.TrustProfile profile = context.Profile;
        Identifier? typed = null;
        Identifier? first = null;
        foreach ((Identifier id, string authority, string type) in locals)
        {
            first ??= id;
            if (type == profile.MrnType)
            {
                if (profile.MrnAuthority is not null && string.Equals(authority, profile.MrnAuthority, StringComparison.OrdinalIgnoreCase))
                {
                    return id;
                }

                typed ??= id;
            }
        }

        if (first is not null && profile.MrnAuthority is not null)
        {
            context.Warn(MappingIssueCode.MrnAuthorityNotFound, segment, field);
        }

        return typed ?? first;
    }

    private static void BirthDate(MappingContext context, Hl7Segment pid, Patient patient)
    {
        string? pid7 = V2Text.Of(pid.Field(7).Component(1));
        if (pid7 is null)
        {
            return;
        }

        string? birthDate = V2DateTime.ToFhirDate(pid7);
        if (birthDate is null)
        {
            context.Warn(MappingIssueCode.InvalidDateTime, "PID", 7);
            return;
        }

        patient.BirthDateElement = new Date(birthDate);
        if (pid7.Length > 8 && V2DateTime.ToFhirDateTime(pid7) is { } birthTime && birthTime.Contains('T', StringComparison.Ordinal))
        {
            patient.BirthDateElement.Extension.Add(new Extension(UkCore.BirthTimeExtension, new FhirDateTime(birthTime)));
        }
    }

    private static void Gender(MappingContext context, Hl7Segment pid, Patient patient)
    {
        string? pid8 = V2Text.First(pid.Field(8));
        if (pid8 is null)
        {
            return;
        }

        patient.Gender = V2Vocabulary.AdministrativeSex.Lookup(pid8)?.Code switch
        {
            "male" => AdministrativeGender.Male,
            "female" => AdministrativeGender.Female,
            "other" => AdministrativeGender.Other,
            "unknown" => AdministrativeGender.Unknown,
            _ => pid8 == "N" ? AdministrativeGender.Other : null,
        };
        if (patient.Gender is null)
        {
            context.Warn(MappingIssueCode.UnknownGender, "PID", 8);
        }
    }

    private static void Ethnicity(MappingContext context, Hl7Segment pid, Patient patient)
    {
        Hl7Value pid22 = pid.Field(22).Repetition(1);
        string? code = V2Text.Of(pid22.Component(1));
        if (code is null)
        {
            return;
        }

        // NHS DD ETHNIC CATEGORY (A-S, Z, 99); a local code the list does not know is kept as text only.
        CodeableConcept concept = UkCore.EthnicCategories.Contains(code) && context.Profile.FacilitiesAreOdsCodes
            ? new CodeableConcept(UkCore.EthnicCategorySystem, code, V2Text.Of(pid22.Component(2)), null)
            : new CodeableConcept { Text = V2Text.Of(pid22.Component(2)) ?? code };
        patient.Extension.Add(new Extension(UkCore.EthnicCategoryExtension, concept));
    }

    private static void AddTelecom(Patient patient, Hl7Value field, ContactPoint.ContactPointUse use)
    {
        for (int r = 1; r <= field.RepetitionCount; r++)
        {
            if (XtnMapper.ToContactPoint(field.Repetition(r), use) is { } point)
            {
                patient.Telecom.Add(point);
            }
        }
    }
}
