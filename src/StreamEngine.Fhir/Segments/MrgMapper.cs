using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>
/// MRG (A40/A34 merge) to Patient links (the IG has no map; this follows the conventions file): the surviving Patient
/// gets <c>link.type = replaces</c> to the old record, and the old record is upserted on its MRG-1 identifier with
/// <c>active = false</c> and <c>link.type = replaced-by</c> to the survivor.
/// </summary>
public static class MrgMapper
{
    /// <summary>Adds the non-surviving Patient and links both ways.</summary>
    public static void Map(MappingContext context, Hl7Segment mrg, Patient survivor, string survivorUrl)
    {
        var old = new Patient { Meta = UkCore.Meta(UkCore.PatientProfile), Active = false };
        var locals = new List<(Identifier, string, string)>();
        Hl7Value mrg1 = mrg.Field(1);
        for (int r = 1; r <= mrg1.RepetitionCount; r++)
        {
            Hl7Value cx = mrg1.Repetition(r);
            string authority = cx.Component(4).Subcomponent(1).ToString();
            string type = cx.Component(5).ToString();
            if (PidMapper.IsNhsNumber(context.Profile, authority, type))
            {
                // The NHS number follows the person: it is on the survivor, not on the retired record.
                continue;
            }

            if (CxMapper.ToLocalIdentifier(cx, context.SendingFacility, context.Profile) is { } id)
            {
                old.Identifier.Add(id);
                locals.Add((id, authority, type));
            }
        }

        // The same rule that keyed the Patient when it was created (PID), so the retired record is found, not added.
        Identifier? key = PidMapper.Key(context, locals, "MRG", 1);
        if (key is null)
        {
            context.Fail(MappingIssueCode.MissingPatientIdentifier, "MRG", 1);
            return;
        }

        if (XpnMapper.ToHumanName(mrg.Field(7).Repetition(1)) is { } priorName)
        {
            old.Name.Add(priorName);
        }

        old.Link.Add(new Patient.LinkComponent { Other = new ResourceReference(survivorUrl), Type = Patient.LinkType.ReplacedBy });
        string oldUrl = context.Bundle.AddUpsert(old, key);
        survivor.Link.Add(new Patient.LinkComponent { Other = new ResourceReference(oldUrl), Type = Patient.LinkType.Replaces });
    }
}
