using System.Collections.Frozen;
using System.Text.Json;
using Hl7.Fhir.Introspection;

namespace StreamEngine.Policy;

/// <summary>A policy that cannot be used. The message names the file and the key.</summary>
public sealed class PolicyException(string file, string key, string problem) : Exception($"Policy {file}: {key}: {problem}")
{
    /// <summary>The JSON key at fault.</summary>
    public string Key { get; } = key;
}

/// <summary>
/// Reads a minimisation policy (JSON, see <c>config/policies/</c>) and checks it against the FHIR model: an unknown
/// resource type or element path fails, naming the file and the path, and so does a policy that would remove the
/// <c>identifier</c> a kept resource type is upserted on.
/// </summary>
public static class PolicyLoader
{
    private static readonly string[] TopKeys = ["name", "version", "keyFile", "resources", "transforms", "$comment"];

    /// <summary>Loads and checks a policy file; <c>keyFile</c> is relative to it.</summary>
    public static MinimisationPolicy Load(string path)
    {
        string file = Path.GetFileName(path);
        JsonDocument document = StreamEngine.Fhir.Profiles.JsonConfigFile.Parse(path, (f, key, message) => new PolicyException(f, key, message));

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new PolicyException(file, "(root)", "must be a JSON object");
            }

            foreach (JsonProperty p in root.EnumerateObject())
            {
                if (Array.IndexOf(TopKeys, p.Name) < 0)
                {
                    throw new PolicyException(file, p.Name, "unknown key (expected name, version, keyFile, resources, transforms)");
                }
            }

            string name = Text(root, "name", file) ?? throw new PolicyException(file, "name", "is required");
            string version = Text(root, "version", file) ?? throw new PolicyException(file, "version", "is required");
            string keyFile = Text(root, "keyFile", file) ?? throw new PolicyException(file, "keyFile", "is required (the HMAC key of pseudonyms and bundle ids)");
            byte[] key;
            try
            {
                key = File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, keyFile));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                throw new PolicyException(file, "keyFile", $"cannot be read ({e.GetType().Name}); create it with: head -c 32 /dev/urandom > {keyFile} && chmod 600 {keyFile}");
            }

            if (key.Length < 16)
            {
                throw new PolicyException(file, "keyFile", "holds fewer than 16 bytes: too short for a key");
            }

            return new MinimisationPolicy
            {
                Name = name,
                Version = version,
                Key = key,
                Resources = Resources(root, file),
                Transforms = Transforms(root, file),
            };
        }
    }

    private static FrozenDictionary<string, PolicyPath> Resources(JsonElement root, string file)
    {
        if (!root.TryGetProperty("resources", out JsonElement resources) || resources.ValueKind != JsonValueKind.Object)
        {
            throw new PolicyException(file, "resources", "is required: an object of resource type -> allowed element paths");
        }

        var result = new Dictionary<string, PolicyPath>(StringComparer.Ordinal);
        foreach (JsonProperty type in resources.EnumerateObject())
        {
            string key = "resources." + type.Name;
            ClassMapping? mapping = Hl7.Fhir.Model.ModelInfo.IsKnownResource(type.Name)
                ? Hl7.Fhir.Model.ModelInfo.ModelInspector.FindClassMapping(type.Name)
                : null;
            if (mapping is null)
            {
                throw new PolicyException(file, key, $"'{type.Name}' is not a FHIR R4 resource type");
            }

            if (type.Value.ValueKind != JsonValueKind.Array)
            {
                throw new PolicyException(file, key, "must be an array of element paths such as " + type.Name + ".identifier");
            }

            var tree = new PolicyPath();
            int i = 0;
            foreach (JsonElement item in type.Value.EnumerateArray())
            {
                string itemKey = $"{key}[{i++}]";
                string? path = item.ValueKind == JsonValueKind.String ? item.GetString() : null;
                string[] steps = path?.Split('.') ?? [];
                if (steps.Length < 2 || steps[0] != type.Name || steps.Any(s => s.Length == 0))
                {
                    throw new PolicyException(file, itemKey, $"'{path}' is not a path such as {type.Name}.identifier");
                }

                if (tree.Add(mapping, steps[1..]) is { } bad)
                {
                    throw new PolicyException(file, itemKey, $"'{path}': '{bad}' is not an element there in FHIR R4");
                }
            }

            if (result.ContainsKey(type.Name))
            {
                throw new PolicyException(file, key, "is given twice");
            }

            if (type.Name != "Provenance" && !tree.Keeps("identifier"))
            {
                throw new PolicyException(file, key, $"removes {type.Name}.identifier, which the sink's upserts are keyed on: keep it (pseudonymise it if need be)");
            }

            result[type.Name] = tree;
        }

        return result.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static List<PolicyTransform> Transforms(JsonElement root, string file)
    {
        var transforms = new List<PolicyTransform>();
        if (!root.TryGetProperty("transforms", out JsonElement t))
        {
            return transforms;
        }

        if (t.ValueKind != JsonValueKind.Object)
        {
            throw new PolicyException(file, "transforms", "must be an object");
        }

        foreach (JsonProperty p in t.EnumerateObject())
        {
            string key = "transforms." + p.Name;
            switch (p.Name)
            {
                case "pseudonymise":
                    if (p.Value.ValueKind != JsonValueKind.Array)
                    {
                        throw new PolicyException(file, key, "must be an array of { system, to }");
                    }

                    int i = 0;
                    foreach (JsonElement rule in p.Value.EnumerateArray())
                    {
                        string ruleKey = $"{key}[{i++}]";
                        string? system = rule.ValueKind == JsonValueKind.Object ? Text(rule, "system", file, ruleKey + ".system") : null;
                        string? to = rule.ValueKind == JsonValueKind.Object ? Text(rule, "to", file, ruleKey + ".to") : null;
                        string? prefix = system?.EndsWith('*') == true ? system[..^1] : system;
                        if (prefix is null || to is null || !Uri.IsWellFormedUriString(prefix, UriKind.Absolute) || !Uri.IsWellFormedUriString(to, UriKind.Absolute)
                            || to.StartsWith(prefix, StringComparison.Ordinal))
                        {
                            throw new PolicyException(file, ruleKey, "needs an absolute 'system' (a trailing * matches every system it starts) and a 'to' outside it");
                        }

                        transforms.Add(new Pseudonymise(system!, to));
                    }

                    break;
                case "birthDate":
                    transforms.Add((p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : null) switch
                    {
                        "year" => new CoarsenBirthDate(false),
                        "month" => new CoarsenBirthDate(true),
                        _ => throw new PolicyException(file, key, "must be year or month"),
                    });
                    break;
                case "postcode":
                    transforms.Add(p.Value.ValueKind == JsonValueKind.String && p.Value.GetString() == "outward"
                        ? new TruncatePostcode()
                        : throw new PolicyException(file, key, "must be outward"));
                    break;
                case "freeText":
                    transforms.Add(p.Value.ValueKind == JsonValueKind.String && p.Value.GetString() == "drop"
                        ? new DropFreeText()
                        : throw new PolicyException(file, key, "must be drop"));
                    break;
                default:
                    throw new PolicyException(file, key, "unknown transform (pseudonymise, birthDate, postcode, freeText)");
            }
        }

        return transforms;
    }

    private static string? Text(JsonElement e, string property, string file, string? key = null)
    {
        if (!e.TryGetProperty(property, out JsonElement v))
        {
            return null;
        }

        return v.ValueKind == JsonValueKind.String && v.GetString()!.Trim().Length > 0
            ? v.GetString()!.Trim()
            : throw new PolicyException(file, key ?? property, "must be a non-empty string");
    }
}
