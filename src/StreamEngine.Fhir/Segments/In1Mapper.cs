using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>IN1 (insurance) to Coverage, per the IG's IN1[Coverage] map.</summary>
public static class In1Mapper
{
    /// <summary>Adds a Coverage keyed on IN1-36 (policy number) or the message id and position.</summary>
    public static void Map(MappingContext context, Hl7Segment in1)
    {
        if (context.PatientReference is not { } patient)
        {
            return;
        }

        var coverage = new Coverage
        {
            Status = FinancialResourceStatusCodes.Active,
            Beneficiary = patient,
        };
        string? policy = V2Text.Of(in1.Field(36).Component(1));
        Identifier key = policy is not null
            ? new Identifier(context.Profile.SystemFor(V2Text.Of(in1.Field(3).Component(1)) ?? context.SendingFacility, "policy"), policy)
            : context.PositionalIdentifier("coverage", in1);
        coverage.Identifier.Add(key);
        ResourceReference payor = XonMapper.ToReference(in1.Field(4).Repetition(1), context.Profile, context.SendingFacility)
            ?? new ResourceReference { Display = V2Text.Of(in1.Field(3).Component(1)) ?? "unknown" };
        if (payor.Identifier is null && payor.Display is null)
        {
            payor.Display = "unknown";
        }

        coverage.Payor.Add(payor);
        if (context.Concept(in1.Field(2), "IN1", 2) is { } plan)
        {
            coverage.Type = plan;
        }

        string? start = context.DateTime(in1, 12);
        string? end = context.DateTime(in1, 13);
        if (start is not null || end is not null)
        {
            coverage.Period = new Period { Start = start, End = end };
        }

        context.Bundle.AddUpsert(coverage, key);
    }
}
