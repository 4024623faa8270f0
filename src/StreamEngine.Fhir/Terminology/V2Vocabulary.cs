using System.Collections.Frozen;
using System.Reflection;

namespace StreamEngine.Fhir.Terminology;

/// <summary>A FHIR code from a vocabulary map: code, display and code system.</summary>
public sealed record MappedCode(string Code, string? Display, string System);

/// <summary>
/// One v2 table -> FHIR code system map, read from the IG's own CSV (embedded from <c>Terminology/IgTables</c>).
/// Codes the IG leaves unmapped, or maps only under a condition, are absent: callers decide what to do.
/// </summary>
public sealed class V2Vocabulary
{
    private readonly FrozenDictionary<string, MappedCode> _codes;

    private V2Vocabulary(string name, FrozenDictionary<string, MappedCode> codes)
    {
        Name = name;
        _codes = codes;
    }

    /// <summary>The IG map's name, e.g. <c>AdministrativeSex</c>.</summary>
    public string Name { get; }

    /// <summary>Number of mapped v2 codes.</summary>
    public int Count => _codes.Count;

    /// <summary>The FHIR code for a v2 code, or null.</summary>
    public MappedCode? Lookup(string? v2Code) =>
        v2Code is { Length: > 0 } && _codes.TryGetValue(v2Code, out MappedCode? code) ? code : null;

    // The tables the mappers use, loaded once.
    public static readonly V2Vocabulary AdministrativeSex = Load("AdministrativeSex");
    public static readonly V2Vocabulary PatientClass = Load("PatientClass[EncounterClass]");
    public static readonly V2Vocabulary EventEncounterStatus = Load("Event[EncounterStatus]");
    public static readonly V2Vocabulary NameType = Load("NameType");
    public static readonly V2Vocabulary AddressUse = Load("AddressType[Use]");
    public static readonly V2Vocabulary AddressType = Load("AddressType[Type]");
    public static readonly V2Vocabulary TelecomUse = Load("TelecommunicationUseCode");
    public static readonly V2Vocabulary TelecomEquipment = Load("TelecommunicationEquipmentType");
    public static readonly V2Vocabulary Interpretation = Load("InterpretationCodes");
    public static readonly V2Vocabulary MaritalStatus = Load("MaritalStatus");
    public static readonly V2Vocabulary OrderControl = Load("OrderControlCode[ServiceRequest.status]");
    public static readonly V2Vocabulary OrderStatus = Load("OrderStatus");
    public static readonly V2Vocabulary AppointmentStatus = Load("FillerStatusCodes[Appointment]");
    public static readonly V2Vocabulary CompletionStatus = Load("CompletionStatus");
    public static readonly V2Vocabulary AllergenType = Load("AllergenType[AllergyIntoleranceCategory]");
    public static readonly V2Vocabulary AllergySeverity = Load("AllergySeverity[AllergyIntolerance.criticality]");
    public static readonly V2Vocabulary Relationship = Load("Relationship");
    public static readonly V2Vocabulary DiagnosisType = Load("DiagnosisType");
    public static readonly V2Vocabulary ReportStatus = Load("ResultStatus[Non-Queries]");
    public static readonly V2Vocabulary ObservationStatus = Load("ObservationResultStatusCodesInterpretation");
    public static readonly V2Vocabulary ContactRole = Load("ContactRole");
    public static readonly V2Vocabulary Route = Load("RouteOfAdministration");

    /// <summary>Loads an embedded IG table by its map name.</summary>
    public static V2Vocabulary Load(string name)
    {
        Assembly assembly = typeof(V2Vocabulary).Assembly;
        string resource = "StreamEngine.Fhir.IgTables." + name + ".csv";
        using Stream stream = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Vocabulary table {name} is not embedded.");
        using var reader = new StreamReader(stream);
        var codes = new Dictionary<string, MappedCode>(StringComparer.Ordinal);
        int line = 0;
        while (reader.ReadLine() is { } text)
        {
            if (++line <= 2)
            {
                continue; // two header rows
            }

            List<string> cells = SplitCsv(text);
            if (cells.Count < 8 || cells[0].Trim().Length == 0 || cells[3].Trim().Length > 0)
            {
                continue;
            }

            string v2 = cells[0].Trim();
            string fhir = cells[6].Trim();
            int systemAt = cells.FindIndex(7, c => c.StartsWith("http", StringComparison.Ordinal));
            if (fhir.Length == 0 || systemAt < 0 || codes.ContainsKey(v2))
            {
                continue;
            }

            string? display = null;
            for (int i = 7; i < systemAt; i++)
            {
                if (cells[i].Trim().Length > 0)
                {
                    display = cells[i].Trim();
                    break;
                }
            }

            codes[v2] = new MappedCode(fhir, display, cells[systemAt].Trim());
        }

        return new V2Vocabulary(name, codes.ToFrozenDictionary(StringComparer.Ordinal));
    }

    private static List<string> SplitCsv(string line)
    {
        var cells = new List<string>();
        var cell = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    cell.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    cell.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                cells.Add(cell.ToString());
                cell.Clear();
            }
            else
            {
                cell.Append(c);
            }
        }

        cells.Add(cell.ToString());
        return cells;
    }
}
