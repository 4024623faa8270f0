using System.Globalization;
using System.Text.Json;
using StreamEngine.Hl7v2;
using StreamEngine.TestKit;

namespace StreamEngine.Fhir.Tests;

/// <summary>
/// Key facts of our bundles against Microsoft FHIR-Converter's expected outputs for the same messages
/// (TestData/fhir-converter). Identifier systems, ids and resource shapes differ by design; the facts compared are
/// patient identifiers, names, birth date, gender, encounter class and start, observation codes, values and units,
/// and report status. Deliberate differences, each checked rather than skipped:
/// <list type="bullet">
/// <item>Patient identifiers: FHIR-Converter also puts US-only PID-19 (SSN) and PID-20 (driving licence), and the
/// insurance numbers of IN1, on the Patient. We do not (no UK use; IN1 numbers stay on the Coverage); they drop
/// some PID-4 values we keep. So ours come only from PID-2/3/4 (and MRG-1), contain every PID-3 value, and
/// contain every PID-2/3/4 value they show.</item>
/// <item>Patient names: they also map PID-9 (alias, backward compatibility only) and names from other segments into
/// Patient resources; ours must be a subset of theirs and contain every PID-5 family name.</item>
/// <item>Birth date and gender: they leave the Patient empty for merge and move events (A40, A41, A45, A47); we
/// map PID fully for every event. Compared where theirs has a value.</item>
/// <item>Encounter class and start: they skip the Encounter for some events we map (A41) and take the start from
/// PV2/other fields when PV1-44 is empty; ours is exactly PV1-44 (so A27 differs by one second: PV1-44 says :20,
/// they say :19). Compared where both have one, the start only when PV1-44 is valued.</item>
/// <item>Observations: they turn PDA (death details: autopsy, coroner...) into Observations; we do not map PDA. They
/// drop ADT OBX values that we map as Quantity (e.g. 60 beats/min), and the OBX of orders (OML) and of some OUL
/// specimen groups, which we map. So codes and values are compared for result messages only, theirs ⊆ ours.</item>
/// <item>Report status: compared for result messages (ORU, OUL) only, ours ⊆ theirs; they also create
/// DiagnosticReports from an ORC without an OBR (status unknown) and from the OBR of billing, document and order
/// messages, which we map as orders (ServiceRequest) or not at all.</item>
/// </list>
/// </summary>
public sealed class FhirConverterFactsTests
{
    private static readonly MessageMapper Mapper = new();

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string line in File.ReadAllLines(TestData.PathOf("fhir-converter", "manifest.tsv")).Skip(1))
        {
            string[] cells = line.Split('\t');
            if (cells.Length > 6 && cells[6].Length > 0)
            {
                data.Add(cells[0], cells[6]);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void KeyFactsAgree(string file, string expectedFile)
    {
        byte[] bytes = TestData.Bytes("fhir-converter", "hl7v2", file);
        Assert.True(Hl7Parser.TryParse(bytes, out Hl7Message? message, out _));
        MappingResult result = Mapper.Map(message!);
        Assert.True(result.Succeeded, string.Join(",", result.Issues));
        using JsonDocument ours = JsonDocument.Parse(FhirJson.Serialize(result.Bundle!));
        using JsonDocument theirs = JsonDocument.Parse(File.ReadAllText(TestData.PathOf("fhir-converter", expectedFile)));
        Facts o = Facts.Of(ours.RootElement);
        Facts t = Facts.Of(theirs.RootElement);

        HashSet<string> sent = Values(message!, "PID", 2, 1);
        sent.UnionWith(Values(message!, "PID", 3, 1));
        sent.UnionWith(Values(message!, "PID", 4, 1));
        Assert.Subset(sent.Union(Values(message!, "MRG", 1, 1)).ToHashSet(), o.PatientIds); // nothing invented
        Assert.Subset(o.PatientIds, Values(message!, "PID", 3, 1)); // every PID-3 kept
        Assert.Subset(o.PatientIds, t.PatientIds.Intersect(sent).ToHashSet()); // every PID-2/3/4 id they show, we show
        if (t.Families.Count > 0)
        {
            Assert.Subset(t.Families, o.Families);
        }

        Assert.Subset(o.Families, Values(message!, "PID", 5, 1).Where(v => v.Length > 0).ToHashSet());
        if (t.BirthDates.Count > 0)
        {
            Assert.Equal(t.BirthDates, o.BirthDates);
        }

        if (t.Genders.Count > 0)
        {
            Assert.Equal(t.Genders, o.Genders);
        }

        if (t.Classes.Count > 0 && o.Classes.Count > 0)
        {
            Assert.Subset(t.Classes, o.Classes);
        }

        if (message!.FindSegment("PV1") is { } pv1 && pv1.Field(44).Component(1).Length > 0 && o.Starts.Count > 0 && t.Starts.Count > 0 && file != "ADT-A27-01.hl7")
        {
            Assert.Subset(t.Starts, o.Starts);
        }

        if (message.MessageCode is "ORU" or "OUL")
        {
            Assert.Subset(o.ObservationCodes, t.ObservationCodes);
            Assert.Subset(o.Quantities, t.Quantities);
            Assert.Subset(t.ReportStatuses, o.ReportStatuses);
        }
    }

    private static HashSet<string> Values(Hl7Message message, string segment, int field, int component)
    {
        var values = new HashSet<string>(StringComparer.Ordinal);
        foreach (Hl7Segment s in message.Segments(segment))
        {
            Hl7Value f = s.Field(field);
            for (int r = 1; r <= f.RepetitionCount; r++)
            {
                string v = f.Repetition(r).Component(component).Subcomponent(1).ToString();
                if (v.Length > 0)
                {
                    values.Add(v);
                }
            }
        }

        return values;
    }

    private sealed record Facts(
        HashSet<string> PatientIds, HashSet<string> Families, HashSet<string> BirthDates, HashSet<string> Genders,
        HashSet<string> Classes, HashSet<string> Starts, HashSet<string> ObservationCodes, HashSet<string> Quantities,
        HashSet<string> ReportStatuses)
    {
        public static Facts Of(JsonElement bundle)
        {
            var f = new Facts([], [], [], [], [], [], [], [], []);
            foreach (JsonElement entry in bundle.GetProperty("entry").EnumerateArray())
            {
                if (!entry.TryGetProperty("resource", out JsonElement r))
                {
                    continue;
                }

                switch (r.GetProperty("resourceType").GetString())
                {
                    case "Patient":
                        Each(r, "identifier", i => Add(f.PatientIds, i, "value"));
                        Each(r, "name", n => Add(f.Families, n, "family"));
                        Add(f.BirthDates, r, "birthDate");
                        Add(f.Genders, r, "gender");
                        break;
                    case "Encounter":
                        if (r.TryGetProperty("class", out JsonElement c))
                        {
                            Add(f.Classes, c, "code");
                        }

                        if (r.TryGetProperty("period", out JsonElement p) && p.TryGetProperty("start", out JsonElement s) && s.GetString()!.Contains('T', StringComparison.Ordinal))
                        {
                            f.Starts.Add(DateTimeOffset.Parse(s.GetString()!, CultureInfo.InvariantCulture).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
                        }

                        break;
                    case "Observation":
                        if (r.TryGetProperty("code", out JsonElement code))
                        {
                            Each(code, "coding", x => Add(f.ObservationCodes, x, "code"));
                        }

                        if (r.TryGetProperty("valueQuantity", out JsonElement q) && q.TryGetProperty("value", out JsonElement v))
                        {
                            f.Quantities.Add(v.GetDecimal().ToString(CultureInfo.InvariantCulture));
                        }

                        break;
                    case "DiagnosticReport":
                        Add(f.ReportStatuses, r, "status");
                        break;
                }
            }

            return f;
        }

        private static void Each(JsonElement e, string name, Action<JsonElement> action)
        {
            if (e.TryGetProperty(name, out JsonElement array) && array.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement item in array.EnumerateArray())
                {
                    action(item);
                }
            }
        }

        private static void Add(HashSet<string> set, JsonElement e, string name)
        {
            if (e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String)
            {
                set.Add(v.GetString()!);
            }
        }
    }
}
