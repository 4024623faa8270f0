using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>
/// RXA (+ RXR, ORC) to Immunization, per the IG's RXA[Immunization] map: vaccine (CVX), occurrence, dose, lot,
/// expiry, manufacturer, performer, status from RXA-20, route and site from RXR.
/// </summary>
public static class RxaMapper
{
    /// <summary>Adds the Immunization upserted on ORC-3 (filler), else ORC-2, else the message id and position.</summary>
    public static void Map(MappingContext context, Hl7Segment rxa, Hl7Segment? orc, Hl7Segment? rxr)
    {
        var immunization = new Immunization
        {
            Meta = UkCore.Meta(UkCore.ImmunizationProfile),
            Patient = context.PatientReference!,
            Encounter = context.EncounterReference,
        };
        OrderNumbers numbers = OrderNumbers.Read(context, null, orc);
        immunization.Identifier.AddRange(numbers.All());
        Identifier key = numbers.Filler ?? numbers.Placer ?? context.PositionalIdentifier("immunization", rxa);
        if (immunization.Identifier.Count == 0)
        {
            immunization.Identifier.Add(key);
        }

        immunization.VaccineCode = context.Concept(rxa.Field(5), "RXA", 5) ?? ObrMapper.Unknown(context, "RXA", 5);
        string? when = context.DateTime(rxa, 3);
        immunization.Occurrence = when is not null ? new FhirDateTime(when) : new FhirString("unknown");
        string? completion = V2Text.First(rxa.Field(20));
        string? status = V2Vocabulary.CompletionStatus.Lookup(completion)?.Code;
        immunization.Status = status == "not-done" ? Immunization.ImmunizationStatusCodes.NotDone : Immunization.ImmunizationStatusCodes.Completed;
        if (V2Text.First(rxa.Field(21)) == "D")
        {
            immunization.Status = Immunization.ImmunizationStatusCodes.EnteredInError;
        }

        if (completion is "RE" && context.Concept(rxa.Field(18), "RXA", 18) is { } refusal)
        {
            immunization.StatusReason = refusal;
        }

        if (QuantityMapper.Number(V2Text.Of(rxa.Field(6))) is { } dose && dose != 999)
        {
            immunization.DoseQuantity = QuantityMapper.ToQuantity(dose, rxa.Field(7), context.Profile);
        }

        immunization.LotNumber = V2Text.Of(rxa.Field(15).Repetition(1));
        string? expiry = V2Text.First(rxa.Field(16));
        if (expiry is not null && V2DateTime.ToFhirDate(expiry) is { } date)
        {
            immunization.ExpirationDate = date;
        }

        if (CweMapper.ToCoding(rxa.Field(17).Repetition(1), context.Profile) is { } manufacturer)
        {
            immunization.Manufacturer = new ResourceReference { Type = "Organization", Display = manufacturer.Display ?? manufacturer.Code };
        }

        immunization.PrimarySource = V2Text.First(rxa.Field(9)) is not { } source || source == "00";
        Hl7Value performers = rxa.Field(10);
        for (int r = 1; r <= performers.RepetitionCount; r++)
        {
            if (XcnMapper.ToReference(performers.Repetition(r), context.Profile, context.SendingFacility) is { } who)
            {
                immunization.Performer.Add(new Immunization.PerformerComponent
                {
                    Actor = who,
                    Function = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v2-0443", "AP", "Administering Provider", null),
                });
            }
        }

        if (rxr is { } r2)
        {
            string? route = V2Text.First(r2.Field(1));
            immunization.Route = V2Vocabulary.Route.Lookup(route) is { } mapped
                ? new CodeableConcept(mapped.System, mapped.Code, mapped.Display, null)
                : context.Concept(r2.Field(1), "RXR", 1);
            immunization.Site = context.Concept(r2.Field(2), "RXR", 2);
        }

        context.Bundle.AddUpsert(immunization, key);
    }
}
