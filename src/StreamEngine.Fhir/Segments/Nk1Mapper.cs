using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>NK1 (next of kin) to RelatedPerson, per the IG's NK1[RelatedPerson] map.</summary>
public static class Nk1Mapper
{
    /// <summary>Adds a RelatedPerson keyed on the message id and segment position.</summary>
    public static void Map(MappingContext context, Hl7Segment nk1)
    {
        if (context.PatientReference is not { } patient)
        {
            return;
        }

        var person = new RelatedPerson { Meta = UkCore.Meta(UkCore.RelatedPersonProfile), Patient = patient };
        Identifier key = context.PositionalIdentifier("related-person", nk1);
        person.Identifier.Add(key);
        Hl7Value names = nk1.Field(2);
        for (int r = 1; r <= names.RepetitionCount; r++)
        {
            if (XpnMapper.ToHumanName(names.Repetition(r)) is { } name)
            {
                person.Name.Add(name);
            }
        }

        Hl7Value relationship = nk1.Field(3);
        string? code = V2Text.First(relationship);
        if (V2Vocabulary.Relationship.Lookup(code) is { } mapped)
        {
            person.Relationship.Add(new CodeableConcept(mapped.System, mapped.Code, mapped.Display, V2Text.Of(relationship.Component(2))));
        }
        else if (context.Concept(relationship, "NK1", 3) is { } concept)
        {
            person.Relationship.Add(concept);
        }

        if (V2Vocabulary.ContactRole.Lookup(V2Text.First(nk1.Field(7))) is { } role)
        {
            person.Relationship.Add(new CodeableConcept(role.System, role.Code, role.Display, null));
        }

        Hl7Value addresses = nk1.Field(4);
        for (int r = 1; r <= addresses.RepetitionCount; r++)
        {
            if (XadMapper.ToAddress(addresses.Repetition(r)) is { } address)
            {
                person.Address.Add(address);
            }
        }

        foreach ((int field, ContactPoint.ContactPointUse use) in new[] { (5, ContactPoint.ContactPointUse.Home), (6, ContactPoint.ContactPointUse.Work) })
        {
            Hl7Value phones = nk1.Field(field);
            for (int r = 1; r <= phones.RepetitionCount; r++)
            {
                if (XtnMapper.ToContactPoint(phones.Repetition(r), use) is { } point)
                {
                    person.Telecom.Add(point);
                }
            }
        }

        context.Bundle.AddUpsert(person, key);
    }
}
