using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>
/// The NHS number tracing status (PID-32 <c>NSTSnn</c> or a bare <c>nn</c>; or a Z-segment field such as ZU1-27 by
/// profile rule) as Extension-UKCore-NHSNumberVerificationStatus on the NHS number identifier.
/// </summary>
public static class VerificationStatus
{
    /// <summary>Reads PID-32 and puts the status on the NHS number.</summary>
    public static void Apply(MappingContext context, Hl7Segment pid, Identifier nhsNumber)
    {
        Hl7Value pid32 = pid.Field(32);
        for (int r = 1; r <= pid32.RepetitionCount; r++)
        {
            string? raw = V2Text.First(pid32.Repetition(r));
            if (raw is null)
            {
                continue;
            }

            if (Code(raw) is { } code)
            {
                Set(nhsNumber, code);
                return;
            }

            if (!raw.StartsWith("PDS", StringComparison.Ordinal) && raw is not ("US" or "UD" or "UA" or "AL" or "ED"))
            {
                context.Warn(MappingIssueCode.UnknownVerificationStatus, "PID", 32);
            }
        }
    }

    /// <summary>The two-digit code from <c>NSTSnn</c> or <c>nn</c> (01-08), else null.</summary>
    public static string? Code(string raw)
    {
        ReadOnlySpan<char> code = raw.StartsWith("NSTS", StringComparison.Ordinal) ? raw.AsSpan(4) : raw.AsSpan();
        return code.Length == 2 && code[0] == '0' && code[1] is >= '1' and <= '8' ? code.ToString() : null;
    }

    /// <summary>True when the identifier already carries a status.</summary>
    public static bool Has(Identifier nhsNumber) => nhsNumber.Extension.Exists(e => e.Url == UkCore.NhsNumberVerificationStatusExtension);

    /// <summary>Sets the status extension.</summary>
    public static void Set(Identifier nhsNumber, string code) =>
        nhsNumber.Extension.Add(new Extension(UkCore.NhsNumberVerificationStatusExtension,
            new CodeableConcept(UkCore.NhsNumberVerificationStatusSystem, code)));
}
