using Hl7.Fhir.Model;
using StreamEngine.Fhir.Profiles;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.DataTypes;

/// <summary>
/// XCN (a person: practitioner) to a logical Reference(Practitioner): identifier from XCN.1 and display from the
/// name. English feeds send national codes only: a GP code (G + 7 digits) is a GMP number, a GMC number (7 digits,
/// or a consultant code C + GMC number) a GMC number; anything else is local to XCN.9 (else the sender).
/// </summary>
public static class XcnMapper
{
    /// <summary>Maps one XCN repetition; null when it has neither an id nor a name.</summary>
    public static ResourceReference? ToReference(Hl7Value xcn, TrustProfile profile, string defaultAuthority)
    {
        string? id = V2Text.Of(xcn.Component(1));
        string? display = Display(xcn);
        if (id is null && display is null)
        {
            return null;
        }

        var reference = new ResourceReference { Type = "Practitioner" };
        if (id is not null)
        {
            reference.Identifier = ToIdentifier(id, V2Text.Of(xcn.Component(9).Subcomponent(1)), defaultAuthority, V2Text.Of(xcn.Component(13)), profile);
        }

        if (display is not null)
        {
            reference.Display = display;
        }

        return reference;
    }

    /// <summary>
    /// A practitioner identifier from a code and its assigning authority (XCN.9, null when not sent). National code
    /// shapes are recognised only when XCN.9 is empty or names them (a local 7-digit code is not a GMC number).
    /// </summary>
    public static Identifier ToIdentifier(string id, string? authority, string defaultAuthority, string? type, TrustProfile profile)
    {
        bool national = profile.FacilitiesAreOdsCodes && authority is null or "NHS" or "GMC" or "GMP" or "NATGP" or "NATCONS";
        if (national && id.Length == 8 && id[0] == 'G' && id.AsSpan(1).IndexOfAnyExceptInRange('0', '9') < 0)
        {
            return new Identifier(UkCore.GmpNumber, id);
        }

        ReadOnlySpan<char> digits = id.Length == 8 && id[0] == 'C' ? id.AsSpan(1) : id.AsSpan();
        if (national && digits.Length == 7 && digits.IndexOfAnyExceptInRange('0', '9') < 0)
        {
            return new Identifier(UkCore.GmcNumber, digits.ToString());
        }

        return new Identifier(profile.SystemFor(authority ?? defaultAuthority, type ?? "PRN"), id);
    }

    private static string? Display(Hl7Value xcn)
    {
        string? family = V2Text.Of(xcn.Component(2).Subcomponent(1));
        string? given = V2Text.Of(xcn.Component(3));
        string? prefix = V2Text.Of(xcn.Component(6));
        if (family is null && given is null)
        {
            return null;
        }

        return string.Join(' ', new[] { prefix, given, family }.Where(p => p is not null));
    }
}
