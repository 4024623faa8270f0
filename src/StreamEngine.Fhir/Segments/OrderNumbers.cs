using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>
/// The placer and filler order numbers of an order group: from OBR-2/OBR-3, else ORC-2/ORC-3. Orders and reports are
/// upserted on them (filler first for reports, placer first for orders).
/// </summary>
public sealed record OrderNumbers(Identifier? Placer, Identifier? Filler)
{
    /// <summary>Reads the numbers from an OBR and/or ORC.</summary>
    public static OrderNumbers Read(MappingContext context, Hl7Segment? obr, Hl7Segment? orc)
    {
        Identifier? placer = Ei(context, obr, 2, "PLAC") ?? Ei(context, orc, 2, "PLAC");
        Identifier? filler = Ei(context, obr, 3, "FILL") ?? Ei(context, orc, 3, "FILL");
        return new OrderNumbers(placer, filler);
    }

    /// <summary>Both numbers that are present.</summary>
    public IEnumerable<Identifier> All()
    {
        if (Placer is not null)
        {
            yield return Placer;
        }

        if (Filler is not null)
        {
            yield return Filler;
        }
    }

    private static Identifier? Ei(MappingContext context, Hl7Segment? segment, int field, string type) =>
        segment is { } s ? EiMapper.ToIdentifier(s.Field(field).Repetition(1), context.Profile, context.SendingFacility, type) : null;
}
