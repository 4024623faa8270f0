using System.Text;
using Hl7.Fhir.Model;

namespace StreamEngine.Fhir.Tests;

/// <summary>
/// The fast JSON writer (one compiled writer per POCO type) against Firely's own serializer, on shapes the mapping
/// rarely or never builds: primitives with only an id or extensions (alone and inside lists), choice elements of
/// several types, nested and contained resources, a resource reached through a polymorphic element that sees
/// several types in one bundle, empty lists and objects that must be left out.
/// </summary>
public sealed class FhirJsonWriterTests
{
    [Fact]
    public void EdgeShapes_AreWrittenByteForByte_AsFirelyWritesThem()
    {
        var given = new FhirString("ANN") { ElementId = "g1" };
        var extensionOnly = new FhirString();
        extensionOnly.Extension.Add(new Extension("http://example.org/absent-reason", new Code("unknown")));
        var patient = new Patient
        {
            Id = "p1",
            Name = [new HumanName { Family = "SMITH", GivenElement = [given, extensionOnly, new FhirString("JO")] }],
            BirthDateElement = new Date("1970-01-01") { ElementId = "bd" },
            Deceased = new FhirBoolean(false),
            MultipleBirth = new Integer(2),
            Identifier = [], // empty: left out
            Telecom = [new ContactPoint()], // an empty object in a list: left out with the list
            Contained = [new Organization { Id = "o1", Name = "GP" }],
        };
        patient.Extension.Add(new Extension { Url = "http://example.org/nested", Extension = [new Extension("a", new FhirDecimal(1.50m)), new Extension("b", new Period { Start = "2026" })] });
        patient.ActiveElement = new FhirBoolean(null);
        patient.ActiveElement.Extension.Add(new Extension("http://example.org/why", new FhirString("not known")));

        var observation = new Observation
        {
            Status = ObservationStatus.Final,
            Code = new CodeableConcept("http://loinc.org", "1-8"),
            Value = new Quantity(4.2m, "mmol/L"),
            Effective = new FhirDateTime("2026-12-01T10:00:00Z"),
            Component = [new Observation.ComponentComponent { Code = new CodeableConcept("http://loinc.org", "2-6"), Value = new FhirString("x") }],
        };
        var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
        foreach (Resource resource in new Resource[] { patient, observation, new Patient(), new Encounter { Status = Encounter.EncounterStatus.Finished } })
        {
            bundle.Entry.Add(new Bundle.EntryComponent { FullUrl = "urn:uuid:" + Guid.NewGuid(), Resource = resource, Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = resource.TypeName } });
        }

        bundle.Entry.Add(new Bundle.EntryComponent()); // empty: Firely writes an empty object in the list

        Assert.Equal(Encoding.UTF8.GetString(FhirJson.SerializeWithFirely(bundle)), Encoding.UTF8.GetString(FhirJson.Serialize(bundle)));
        Assert.Equal(Encoding.UTF8.GetString(FhirJson.SerializeWithFirely(patient)), Encoding.UTF8.GetString(FhirJson.Serialize(patient)));
        Assert.Equal("{\"resourceType\":\"Patient\"}", Encoding.UTF8.GetString(FhirJson.Serialize(new Patient())));
    }

    [Fact]
    public void AnIdWithExtensionsOfItsOwn_AndNullsInLists_AreWrittenAsFirelyWritesThem()
    {
        var idWithExtension = new FhirString("bd");
        idWithExtension.Extension.Add(new Extension("http://example.org/x", new Code("y")));
        var patients = new List<Patient>
        {
            new() { BirthDateElement = new Date("1970-01-01") { ElementIdElement = idWithExtension } },
            new() { Name = [null!, new HumanName { Family = "SMITH", GivenElement = [null!, new FhirString("JO")] }] },
            new() { Name = [null!] },
            new() { Name = [new HumanName { GivenElement = [null!] }] },
            new() { Contained = [null!, new Organization { Name = "GP" }] },
        };
        foreach (Patient patient in patients)
        {
            Assert.Equal(Encoding.UTF8.GetString(FhirJson.SerializeWithFirely(patient)), Encoding.UTF8.GetString(FhirJson.Serialize(patient)));
        }
    }
}

/// <summary>The writer and walk a thread reuses from one serialisation to the next.</summary>
public sealed class FhirJsonReuseTests
{
    private static Bundle Mapped(string file)
    {
        StreamEngine.Hl7v2.Hl7Parser.TryParse(StreamEngine.TestKit.TestData.Bytes("bench", file), out StreamEngine.Hl7v2.Hl7Message? message, out _);
        return new MessageMapper().Map(message!).Bundle!;
    }

    [Fact]
    public void OneThreadsSerialisations_InTurn_AreEachWhatFirelyWrites()
    {
        Bundle adt = Mapped("adt_a01.hl7");
        Bundle oru = Mapped("oru_r01_20obx.hl7");
        var first = new System.Buffers.ArrayBufferWriter<byte>();
        var second = new System.Buffers.ArrayBufferWriter<byte>();
        FhirJson.Serialize(adt, first);
        FhirJson.Serialize(oru, second);
        Assert.Equal(FhirJson.SerializeWithFirely(adt), first.WrittenSpan.ToArray());
        Assert.Equal(FhirJson.SerializeWithFirely(oru), second.WrittenSpan.ToArray());
        Assert.Equal(FhirJson.SerializeWithFirely(adt), FhirJson.Serialize(adt));
    }

    [Fact]
    public void AFinishedSerialisation_KeepsNoHoldOnTheCallersOutput()
    {
        // The writer a thread reuses must not keep the last output (and the patient JSON in it) alive until its next use.
        WeakReference output = SerialiseIntoAnOutputDroppedAfterwards(Mapped("adt_a01.hl7"));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(output.IsAlive);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference SerialiseIntoAnOutputDroppedAfterwards(Bundle bundle)
    {
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        FhirJson.Serialize(bundle, output);
        Assert.True(output.WrittenCount > 0);
        return new WeakReference(output);
    }
}
