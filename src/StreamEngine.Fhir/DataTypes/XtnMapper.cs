using Hl7.Fhir.Model;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.DataTypes;

/// <summary>XTN to ContactPoint, per the IG's XTN[ContactPoint] map.</summary>
public static class XtnMapper
{
    /// <summary>Maps one XTN repetition; <paramref name="defaultUse"/> applies when XTN.2 is empty (PID-13 home, PID-14 work).</summary>
    public static ContactPoint? ToContactPoint(Hl7Value xtn, ContactPoint.ContactPointUse? defaultUse = null)
    {
        string? equipment = V2Text.Of(xtn.Component(3));
        string? email = V2Text.Of(xtn.Component(4));
        string? value = equipment is "Internet" or "X.400" ? email : null;
        value ??= V2Text.Of(xtn.Component(12)) ?? Number(xtn) ?? V2Text.Of(xtn.Component(1)) ?? email;
        if (value is null)
        {
            return null;
        }

        var point = new ContactPoint { Value = value };
        point.System = equipment switch
        {
            "Internet" or "X.400" => ContactPoint.ContactPointSystem.Email,
            "FX" => ContactPoint.ContactPointSystem.Fax,
            "BP" => ContactPoint.ContactPointSystem.Pager,
            null when value == email => ContactPoint.ContactPointSystem.Email,
            _ => ContactPoint.ContactPointSystem.Phone,
        };
        string? useCode = V2Text.Of(xtn.Component(2));
        if (equipment == "CP")
        {
            point.Use = ContactPoint.ContactPointUse.Mobile;
        }
        else if (V2Vocabulary.TelecomUse.Lookup(useCode) is { } use && Enum.TryParse(use.Code, true, out ContactPoint.ContactPointUse u))
        {
            point.Use = u;
        }
        else if (useCode is null)
        {
            point.Use = defaultUse;
        }

        return point;
    }

    private static string? Number(Hl7Value xtn)
    {
        string? local = V2Text.Of(xtn.Component(7));
        if (local is null)
        {
            return null;
        }

        string? country = V2Text.Of(xtn.Component(5));
        string? area = V2Text.Of(xtn.Component(6));
        string? extension = V2Text.Of(xtn.Component(8));
        string number = (country is null ? string.Empty : "+" + country.TrimStart('+') + " ") + (area is null ? string.Empty : area + " ") + local;
        return extension is null ? number : number + " ext. " + extension;
    }
}
