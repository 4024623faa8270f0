using System.Collections.Frozen;
using System.Text.Json;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace StreamEngine.Fhir.Profiles;

/// <summary>A Trust profile that cannot be used. The message names the file and the key, never message content.</summary>
public sealed class TrustProfileException(string file, string key, string problem)
    : Exception($"Trust profile {file}: {key}: {problem}")
{
    /// <summary>The profile file.</summary>
    public string File { get; } = file;

    /// <summary>The JSON key at fault, e.g. <c>zSegments[1].valueType</c>.</summary>
    public string Key { get; } = key;
}

/// <summary>
/// Reads a Trust profile (JSON, see <c>config/examples/trust-profile.json</c>). Every key is checked: an unknown key,
/// a wrong type or a bad value fails here, at start-up, naming the file and the key.
/// </summary>
public static partial class TrustProfileLoader
{
    private static readonly FrozenSet<string> TopKeys = new[]
    {
        "name", "nhsNumber", "mrn", "identifierSystems", "visitNumberSystem", "facilitiesAreOdsCodes", "codeSystems",
        "encounterStatus", "zSegments", "conceptMaps", "diagnosticSections", "$comment",
    }.ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<string> EncounterStatuses = new[]
    {
        "planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled", "entered-in-error", "unknown",
    }.ToFrozenSet(StringComparer.Ordinal);

    // The coded fields whose codings go through MappingContext.Translate: a ConceptMap on any other would do nothing.
    private static readonly FrozenSet<string> TranslatedFields = new[]
    {
        "AIS-3", "AL1-3", "DG1-3", "IN1-2", "NK1-3", "OBR-4", "OBR-24", "OBR-31", "OBX-3", "OBX-5", "ORC-16", "PID-16",
        "PR1-3", "PRB-3", "PV1-3", "PV1-10", "PV2-3", "RF1-3", "RF1-10", "RXA-5", "RXA-18", "RXD-2", "RXE-2", "RXO-1",
        "RXR-1", "RXR-2", "SCH-6", "SCH-7", "SCH-8", "SPM-4", "SPM-7", "SPM-8", "TXA-2",
    }.ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<string> ValueTypes = new[]
    {
        "string", "code", "boolean", "dateTime", "integer", "decimal", "CodeableConcept", "Coding",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>Loads and checks a profile file; ConceptMap files are relative to it.</summary>
    public static TrustProfile Load(string path)
    {
        string file = Path.GetFileName(path);
        JsonDocument document = JsonConfigFile.Parse(path, (f, key, message) => new TrustProfileException(f, key, message));

        using (document)
        {
            return Read(document.RootElement, file, Path.GetDirectoryName(Path.GetFullPath(path))!);
        }
    }

    private static TrustProfile Read(JsonElement root, string file, string folder)
    {
        var fail = (string key, string problem) => new TrustProfileException(file, key, problem);
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw fail("(root)", "must be a JSON object");
        }

        foreach (JsonProperty p in root.EnumerateObject())
        {
            if (!TopKeys.Contains(p.Name))
            {
                throw fail(p.Name, "unknown key (expected one of " + string.Join(", ", TopKeys.Where(k => k[0] != '$').Order(StringComparer.Ordinal)) + ")");
            }
        }

        TrustProfile d = TrustProfile.Default;
        string name = String(root, "name", file) ?? Path.GetFileNameWithoutExtension(file);

        FrozenSet<string> nhsAuthorities = d.NhsNumberAuthorities;
        FrozenSet<string> nhsTypes = d.NhsNumberTypes;
        if (root.TryGetProperty("nhsNumber", out JsonElement nhs))
        {
            Object(nhs, "nhsNumber", file, "assigningAuthorities", "identifierTypes");
            nhsAuthorities = Strings(nhs, "nhsNumber.assigningAuthorities", "assigningAuthorities", file)?.ToFrozenSet(StringComparer.OrdinalIgnoreCase) ?? nhsAuthorities;
            nhsTypes = Strings(nhs, "nhsNumber.identifierTypes", "identifierTypes", file)?.ToFrozenSet(StringComparer.Ordinal) ?? nhsTypes;
            if (nhsAuthorities.Count == 0 && nhsTypes.Count == 0)
            {
                throw fail("nhsNumber", "says no repetition is ever the NHS number (both lists are empty)");
            }
        }

        string? mrnAuthority = null;
        string mrnType = d.MrnType;
        if (root.TryGetProperty("mrn", out JsonElement mrn))
        {
            Object(mrn, "mrn", file, "assigningAuthority", "type");
            mrnAuthority = String(mrn, "assigningAuthority", file, "mrn.assigningAuthority");
            mrnType = String(mrn, "type", file, "mrn.type") ?? mrnType;
        }

        FrozenDictionary<string, string> systems = UriMap(root, "identifierSystems", file);
        foreach ((string authorityKey, string uri) in systems)
        {
            if (uri == NhsNumber.System)
            {
                // The NHS number system is only ever given to a number that passed Modulus 11.
                throw fail("identifierSystems." + authorityKey, "may not be the NHS number system (use nhsNumber.assigningAuthorities)");
            }
        }
        string? visitSystem = String(root, "visitNumberSystem", file);
        if (visitSystem is not null && !IsAbsoluteUri(visitSystem))
        {
            throw fail("visitNumberSystem", "must be an absolute URI");
        }

        bool ods = d.FacilitiesAreOdsCodes;
        if (root.TryGetProperty("facilitiesAreOdsCodes", out JsonElement odsElement))
        {
            ods = odsElement.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw fail("facilitiesAreOdsCodes", "must be true or false"),
            };
        }

        FrozenDictionary<string, string> codeSystems = UriMap(root, "codeSystems", file);

        var statuses = new Dictionary<string, string>(StringComparer.Ordinal);
        if (root.TryGetProperty("encounterStatus", out JsonElement status))
        {
            if (status.ValueKind != JsonValueKind.Object)
            {
                throw fail("encounterStatus", "must be an object of trigger event -> status");
            }

            foreach (JsonProperty p in status.EnumerateObject())
            {
                if (!TriggerEventPattern().IsMatch(p.Name))
                {
                    throw fail("encounterStatus." + p.Name, "is not a trigger event such as A04");
                }

                if (p.Value.ValueKind != JsonValueKind.String || !EncounterStatuses.Contains(p.Value.GetString()!))
                {
                    throw fail("encounterStatus." + p.Name, "must be one of " + string.Join(", ", EncounterStatuses.Order(StringComparer.Ordinal)));
                }

                statuses[p.Name] = p.Value.GetString()!;
            }
        }

        var rules = new List<ZSegmentRule>();
        if (root.TryGetProperty("zSegments", out JsonElement zs))
        {
            if (zs.ValueKind != JsonValueKind.Array)
            {
                throw fail("zSegments", "must be an array");
            }

            int i = 0;
            foreach (JsonElement z in zs.EnumerateArray())
            {
                rules.Add(ZRule(z, $"zSegments[{i++}]", file));
            }
        }

        var maps = new Dictionary<string, ConceptMapTranslator>(StringComparer.Ordinal);
        if (root.TryGetProperty("conceptMaps", out JsonElement cms))
        {
            if (cms.ValueKind != JsonValueKind.Array)
            {
                throw fail("conceptMaps", "must be an array");
            }

            int i = 0;
            foreach (JsonElement cm in cms.EnumerateArray())
            {
                string key = $"conceptMaps[{i++}]";
                Object(cm, key, file, "file", "fields");
                string mapFile = String(cm, "file", file, key + ".file") ?? throw fail(key + ".file", "is required");
                List<string> fields = Strings(cm, key + ".fields", "fields", file) is { Count: > 0 } named ? named : throw fail(key + ".fields", "is required (one or more fields)");
                ConceptMapTranslator translator = ReadConceptMap(Path.Combine(folder, mapFile), file, key + ".file");
                foreach (string field in fields)
                {
                    if (!FieldPattern().IsMatch(field))
                    {
                        throw fail(key + ".fields", $"'{field}' is not a field such as PV1-10 or OBX-3");
                    }

                    if (!TranslatedFields.Contains(field))
                    {
                        throw fail(key + ".fields", $"'{field}' is not a coded field the mapping translates (one of {string.Join(", ", TranslatedFields.Order(StringComparer.Ordinal))})");
                    }

                    if (!maps.TryAdd(field, translator))
                    {
                        throw fail(key + ".fields", $"'{field}' already has a ConceptMap");
                    }
                }
            }
        }

        Terminology.DiagnosticSection sections = root.TryGetProperty("diagnosticSections", out JsonElement ds)
            ? Sections(ds, file)
            : d.DiagnosticSections;

        return new TrustProfile
        {
            DiagnosticSections = sections,
            Name = name,
            NhsNumberAuthorities = nhsAuthorities,
            NhsNumberTypes = nhsTypes,
            MrnAuthority = mrnAuthority,
            MrnType = mrnType,
            IdentifierSystems = systems,
            VisitNumberSystem = visitSystem,
            FacilitiesAreOdsCodes = ods,
            CodeSystems = codeSystems,
            EncounterStatus = statuses.ToFrozenDictionary(StringComparer.Ordinal),
            ZSegments = rules,
            ConceptMaps = maps.ToFrozenDictionary(StringComparer.Ordinal),
        };
    }

    // diagnosticSections: { "empty": kind, "emptyBySendingApplication": { "CRIS": kind }, "laboratory": [codes], "imaging": [codes] }
    private static Terminology.DiagnosticSection Sections(JsonElement ds, string file)
    {
        const string Key = "diagnosticSections";
        Object(ds, Key, file, "empty", "emptyBySendingApplication", "laboratory", "imaging");
        Terminology.SectionKind Kind(string? value, string key) => value switch
        {
            "laboratory" => Terminology.SectionKind.Laboratory,
            "imaging" => Terminology.SectionKind.Imaging,
            "other" => Terminology.SectionKind.Other,
            _ => throw new TrustProfileException(file, key, "must be one of laboratory, imaging, other"),
        };

        Terminology.SectionKind empty = ds.TryGetProperty("empty", out _)
            ? Kind(String(ds, "empty", file, Key + ".empty"), Key + ".empty")
            : Terminology.DiagnosticSection.Default.Empty;
        var bySender = new Dictionary<string, Terminology.SectionKind>(StringComparer.OrdinalIgnoreCase);
        if (ds.TryGetProperty("emptyBySendingApplication", out JsonElement senders))
        {
            if (senders.ValueKind != JsonValueKind.Object)
            {
                throw new TrustProfileException(file, Key + ".emptyBySendingApplication", "must be an object of sending application (MSH-3) -> laboratory, imaging or other");
            }

            foreach (JsonProperty p in senders.EnumerateObject())
            {
                string key = $"{Key}.emptyBySendingApplication.{p.Name}";
                if (!bySender.TryAdd(p.Name.Trim(), Kind(p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : null, key)))
                {
                    throw new TrustProfileException(file, key, "is given twice (names are compared without case)");
                }
            }
        }

        var local = new Dictionary<string, Terminology.SectionKind>(StringComparer.OrdinalIgnoreCase);
        foreach ((string property, Terminology.SectionKind kind) in new[] { ("laboratory", Terminology.SectionKind.Laboratory), ("imaging", Terminology.SectionKind.Imaging) })
        {
            foreach (string code in Strings(ds, $"{Key}.{property}", property, file) ?? [])
            {
                if (local.TryGetValue(code, out Terminology.SectionKind other) && other != kind)
                {
                    throw new TrustProfileException(file, $"{Key}.{property}", $"'{code}' is listed as both laboratory and imaging");
                }

                local[code] = kind;
            }
        }

        return new Terminology.DiagnosticSection(empty, bySender, local);
    }

    private static ZSegmentRule ZRule(JsonElement z, string key, string file)
    {
        Object(z, key, file, "segment", "field", "component", "target", "resource", "url", "valueType", "system", "when", "code");
        string segment = String(z, "segment", file, key + ".segment") ?? throw new TrustProfileException(file, key + ".segment", "is required");
        if (!ZSegmentPattern().IsMatch(segment))
        {
            throw new TrustProfileException(file, key + ".segment", "must be a Z-segment id such as ZU1 or ZPI");
        }

        int field = Int(z, "field", file, key + ".field") ?? throw new TrustProfileException(file, key + ".field", "is required");
        int component = Int(z, "component", file, key + ".component") ?? 1;
        if (field is < 1 or > 999 || component is < 1 or > 99)
        {
            throw new TrustProfileException(file, key + (field is < 1 or > 999 ? ".field" : ".component"), "is out of range");
        }

        string targetText = String(z, "target", file, key + ".target") ?? throw new TrustProfileException(file, key + ".target", "is required");
        ZTargetKind target = targetText switch
        {
            "extension" => ZTargetKind.Extension,
            "identifier" => ZTargetKind.Identifier,
            "nhsNumberVerificationStatus" => ZTargetKind.NhsNumberVerificationStatus,
            "security" => ZTargetKind.Security,
            _ => throw new TrustProfileException(file, key + ".target", "must be extension, identifier, nhsNumberVerificationStatus or security"),
        };
        string resource = String(z, "resource", file, key + ".resource") ?? "Patient";
        if (resource is not ("Patient" or "Encounter"))
        {
            throw new TrustProfileException(file, key + ".resource", "must be Patient or Encounter");
        }

        string? url = String(z, "url", file, key + ".url");
        string valueType = String(z, "valueType", file, key + ".valueType") ?? "string";
        string? system = String(z, "system", file, key + ".system");
        List<string>? when = Strings(z, key + ".when", "when", file);
        string? code = String(z, "code", file, key + ".code");
        switch (target)
        {
            case ZTargetKind.Extension:
                if (url is null || !IsAbsoluteUri(url))
                {
                    throw new TrustProfileException(file, key + ".url", "an extension needs an absolute url");
                }

                if (!ValueTypes.Contains(valueType))
                {
                    throw new TrustProfileException(file, key + ".valueType", "must be one of " + string.Join(", ", ValueTypes.Order(StringComparer.Ordinal)));
                }

                break;
            case ZTargetKind.Identifier:
                if (system is null || !IsAbsoluteUri(system))
                {
                    throw new TrustProfileException(file, key + ".system", "an identifier needs an absolute system URI");
                }

                break;
            case ZTargetKind.Security:
                if (when is null || when.Count == 0 || code is null)
                {
                    throw new TrustProfileException(file, key + (code is null ? ".code" : ".when"), "a security rule needs 'when' values and a 'code'");
                }

                break;
            case ZTargetKind.NhsNumberVerificationStatus:
                if (resource != "Patient")
                {
                    throw new TrustProfileException(file, key + ".resource", "the NHS number status belongs to the Patient");
                }

                break;
        }

        if (system is not null && !IsAbsoluteUri(system))
        {
            throw new TrustProfileException(file, key + ".system", "must be an absolute URI");
        }

        if (target != ZTargetKind.Security && (when is not null || code is not null))
        {
            throw new TrustProfileException(file, key + (when is not null ? ".when" : ".code"), "only a security rule takes 'when' and 'code'");
        }

        return new ZSegmentRule(segment, field, component, target, resource, url, valueType, system,
            (when ?? []).ToFrozenSet(StringComparer.Ordinal), code);
    }

    private static ConceptMapTranslator ReadConceptMap(string path, string file, string key)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TrustProfileException(file, key, $"ConceptMap {Path.GetFileName(path)} cannot be read: {e.GetType().Name}");
        }

        try
        {
            var map = new FhirJsonDeserializer().Deserialize<ConceptMap>(json);
            var translator = new ConceptMapTranslator(map);
            if (translator.Count == 0)
            {
                throw new TrustProfileException(file, key, $"ConceptMap {Path.GetFileName(path)} maps no codes");
            }

            return translator;
        }
        catch (DeserializationFailedException e)
        {
            throw new TrustProfileException(file, key, $"ConceptMap {Path.GetFileName(path)} is not a valid FHIR ConceptMap ({e.Exceptions.Count} problems, first: {e.Exceptions.FirstOrDefault()?.Message})");
        }
        catch (Exception e) when (e is not TrustProfileException and not OutOfMemoryException)
        {
            // Another resource type, JSON null, malformed JSON: whatever the reader throws, the profile names it.
            throw new TrustProfileException(file, key, $"ConceptMap {Path.GetFileName(path)} is not a FHIR ConceptMap ({e.GetType().Name})");
        }
    }

    private static void Object(JsonElement e, string key, string file, params string[] allowed)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new TrustProfileException(file, key, "must be an object");
        }

        foreach (JsonProperty p in e.EnumerateObject())
        {
            if (Array.IndexOf(allowed, p.Name) < 0)
            {
                throw new TrustProfileException(file, key + "." + p.Name, "unknown key (expected one of " + string.Join(", ", allowed) + ")");
            }
        }
    }

    private static string? String(JsonElement e, string property, string file, string? key = null)
    {
        if (!e.TryGetProperty(property, out JsonElement v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.String || v.GetString()!.Trim().Length == 0)
        {
            throw new TrustProfileException(file, key ?? property, "must be a non-empty string");
        }

        return v.GetString()!.Trim();
    }

    private static int? Int(JsonElement e, string property, string file, string key)
    {
        if (!e.TryGetProperty(property, out JsonElement v))
        {
            return null;
        }

        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) ? n : throw new TrustProfileException(file, key, "must be a whole number");
    }

    private static List<string>? Strings(JsonElement e, string key, string property, string file)
    {
        if (!e.TryGetProperty(property, out JsonElement v))
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String || x.GetString()!.Trim().Length == 0))
        {
            throw new TrustProfileException(file, key, "must be an array of non-empty strings");
        }

        return v.EnumerateArray().Select(x => x.GetString()!.Trim()).ToList();
    }

    private static FrozenDictionary<string, string> UriMap(JsonElement root, string property, string file)
    {
        if (!root.TryGetProperty(property, out JsonElement v))
        {
            return FrozenDictionary<string, string>.Empty;
        }

        if (v.ValueKind != JsonValueKind.Object)
        {
            throw new TrustProfileException(file, property, "must be an object of name -> URI");
        }

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonProperty p in v.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String || !IsAbsoluteUri(p.Value.GetString()!))
            {
                throw new TrustProfileException(file, property + "." + p.Name, "must be an absolute URI");
            }

            map[p.Name] = p.Value.GetString()!;
        }

        return map.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static bool IsAbsoluteUri(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out Uri? uri) && uri.Scheme is "http" or "https" or "urn" or "oid";

    [GeneratedRegex("^A[0-9]{2}$")]
    private static partial Regex TriggerEventPattern();

    [GeneratedRegex("^Z[A-Z0-9]{2}$")]
    private static partial Regex ZSegmentPattern();

    [GeneratedRegex("^[A-Z][A-Z0-9]{2}-[1-9][0-9]{0,2}$")]
    private static partial Regex FieldPattern();
}
