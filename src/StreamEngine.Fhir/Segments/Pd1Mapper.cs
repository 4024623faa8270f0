using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>
/// PD1 to Patient.generalPractitioner (HL7 UK): PD1-3 repetition 1 is the registered GP practice (ODS code in XON.3,
/// or XON.10), PD1-4 the registered GP (national GMP code in XCN.1). Both as logical references by identifier.
/// </summary>
public static class Pd1Mapper
{
    /// <summary>Adds the GP practice and the GP to the Patient.</summary>
    public static void Map(MappingContext context, Hl7Segment pd1, Patient patient)
    {
        if (XonMapper.ToReference(pd1.Field(3).Repetition(1), context.Profile, context.SendingFacility) is { } practice)
        {
            patient.GeneralPractitioner.Add(practice);
        }

        Hl7Value pd14 = pd1.Field(4);
        for (int r = 1; r <= pd14.RepetitionCount; r++)
        {
            if (XcnMapper.ToReference(pd14.Repetition(r), context.Profile, context.SendingFacility) is { } gp)
            {
                patient.GeneralPractitioner.Add(gp);
            }
        }
    }
}
