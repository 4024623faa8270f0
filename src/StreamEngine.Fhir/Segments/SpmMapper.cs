using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>SPM to Specimen, per the IG's SPM[Specimen] map.</summary>
public static class SpmMapper
{
    /// <summary>Adds a Specimen keyed on its filler (else placer) id, else the message id and position; returns its fullUrl.</summary>
    public static string Map(MappingContext context, Hl7Segment spm)
    {
        var specimen = new Specimen { Meta = UkCore.Meta(UkCore.SpecimenProfile), Subject = context.PatientReference };
        Hl7Value ids = spm.Field(2).Repetition(1);
        Identifier? placer = SubEi(context, ids.Component(1), "PLAC");
        Identifier? filler = SubEi(context, ids.Component(2), "FILL");
        if (placer is not null)
        {
            specimen.Identifier.Add(placer);
        }

        if (filler is not null)
        {
            specimen.Identifier.Add(filler);
        }

        Identifier key = filler ?? placer ?? context.PositionalIdentifier("specimen", spm);
        if (specimen.Identifier.Count == 0)
        {
            specimen.Identifier.Add(key);
        }

        specimen.Type = context.Concept(spm.Field(4), "SPM", 4);
        var collection = new Specimen.CollectionComponent();
        string? collected = context.DateTime(spm, 17);
        if (collected is not null)
        {
            collection.Collected = new FhirDateTime(collected);
        }

        collection.Method = context.Concept(spm.Field(7), "SPM", 7);
        collection.BodySite = context.Concept(spm.Field(8), "SPM", 8);
        if (collection.Collected is not null || collection.Method is not null || collection.BodySite is not null)
        {
            specimen.Collection = collection;
        }

        if (context.DateTime(spm, 18) is { } received)
        {
            specimen.ReceivedTime = received;
        }

        return context.Bundle.AddUpsert(specimen, key);
    }

    // SPM-2 is EIP: each component is an EI whose parts are subcomponents.
    private static Identifier? SubEi(MappingContext context, Hl7Value component, string type)
    {
        string? value = V2Text.Of(component.Subcomponent(1));
        if (value is null)
        {
            return null;
        }

        string? ns = V2Text.Of(component.Subcomponent(2));
        return new Identifier(context.Profile.SystemFor(ns ?? context.SendingFacility, type), value)
        {
            Type = new CodeableConcept(UkCore.V2_0203, type),
        };
    }
}
