using System.Collections.Frozen;
using System.Text.Json;
using Hl7.Fhir.Introspection;

namespace StreamEngine.Policy;

/// <summary>A policy that cannot be used. The message names the file and the key of each problem found.</summary>
public sealed class PolicyException : Exception
{
    /// <summary>One problem.</summary>
    public PolicyException(string file, string key, string problem)
        : this(file, [(key, problem)])
    {
    }

    /// <summary>Every problem found in the file (at least one), each by its key.</summary>
    public PolicyException(string file, IReadOnlyList<(string Key, string Problem)> problems)
        : this(problems[0].Key, [.. problems.Select(p => $"Policy {file}: {p.Key}: {p.Problem}")])
    {
    }

    private PolicyException(string key, IReadOnlyList<string> problems)
        : base(string.Join("; ", problems))
    {
        Key = key;
        Problems = problems;
    }

    /// <summary>The JSON key at fault (the first, when there are several).</summary>
    public string Key { get; }

    /// <summary>Each problem, named by file and key.</summary>
    public IReadOnlyList<string> Problems { get; }
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

            // Every problem is collected and told at once: one restart per mistake is no way to write a policy.
            var problems = new List<(string Key, string Problem)>();
            foreach (JsonProperty p in root.EnumerateObject())
            {
                if (Array.IndexOf(TopKeys, p.Name) < 0)
                {
                    problems.Add((p.Name, "unknown key (expected name, version, keyFile, resources, transforms)"));
                }
            }

            string? name = Required(root, "name", "is required", problems);
            string? version = Required(root, "version", "is required", problems);
            string? keyFile = Required(root, "keyFile", "is required (the HMAC key of pseudonyms and bundle ids)", problems);
            byte[] key = [];
            if (keyFile is not null)
            {
                try
                {
                    key = File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, keyFile));
                    if (key.Length < 16)
                    {
                        problems.Add(("keyFile", "holds fewer than 16 bytes: too short for a key"));
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
                {
                    problems.Add(("keyFile", $"cannot be read ({e.GetType().Name}); create it with: head -c 32 /dev/urandom > {keyFile} && chmod 600 {keyFile}"));
                }
            }

            FrozenDictionary<string, PolicyPath> resources = Resources(root, problems);
            List<PolicyTransform> transforms = Transforms(root, problems);
            if (problems.Count > 0)
            {
                throw new PolicyException(file, problems);
            }

            return new MinimisationPolicy
            {
                Name = name!,
                Version = version!,
                Key = key,
                Resources = resources,
                Transforms = transforms,
            };
        }
    }

    private static FrozenDictionary<string, PolicyPath> Resources(JsonElement root, List<(string Key, string Problem)> problems)
    {
        if (!root.TryGetProperty("resources", out JsonElement resources) || resources.ValueKind != JsonValueKind.Object)
        {
            problems.Add(("resources", "is required: an object of resource type -> allowed element paths"));
            return FrozenDictionary<string, PolicyPath>.Empty;
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
                problems.Add((key, $"'{type.Name}' is not a FHIR R4 resource type"));
                continue;
            }

            if (type.Value.ValueKind != JsonValueKind.Array)
            {
                problems.Add((key, "must be an array of element paths such as " + type.Name + ".identifier"));
                continue;
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
                    problems.Add((itemKey, $"'{path}' is not a path such as {type.Name}.identifier"));
                }
                else if (tree.Add(mapping, steps[1..]) is { } bad)
                {
                    problems.Add((itemKey, $"'{path}': '{bad}' is not an element there in FHIR R4"));
                }
            }

            if (result.ContainsKey(type.Name))
            {
                problems.Add((key, "is given twice"));
                continue;
            }

            if (type.Name != "Provenance" && !tree.Keeps("identifier"))
            {
                problems.Add((key, $"removes {type.Name}.identifier, which the sink's upserts are keyed on: keep it (pseudonymise it if need be)"));
            }

            result[type.Name] = tree;
        }

        return result.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static List<PolicyTransform> Transforms(JsonElement root, List<(string Key, string Problem)> problems)
    {
        var transforms = new List<PolicyTransform>();
        if (!root.TryGetProperty("transforms", out JsonElement t))
        {
            return transforms;
        }

        if (t.ValueKind != JsonValueKind.Object)
        {
            problems.Add(("transforms", "must be an object"));
            return transforms;
        }

        foreach (JsonProperty p in t.EnumerateObject())
        {
            string key = "transforms." + p.Name;
            switch (p.Name)
            {
                case "pseudonymise":
                    if (p.Value.ValueKind != JsonValueKind.Array)
                    {
                        problems.Add((key, "must be an array of { system, to }"));
                        break;
                    }

                    int i = 0;
                    foreach (JsonElement rule in p.Value.EnumerateArray())
                    {
                        string ruleKey = $"{key}[{i++}]";
                        string? system = rule.ValueKind == JsonValueKind.Object ? Text(rule, "system", problems, ruleKey + ".system") : null;
                        string? to = rule.ValueKind == JsonValueKind.Object ? Text(rule, "to", problems, ruleKey + ".to") : null;
                        string? prefix = system?.EndsWith('*') == true ? system[..^1] : system;
                        if (prefix is null || to is null || !Uri.IsWellFormedUriString(prefix, UriKind.Absolute) || !Uri.IsWellFormedUriString(to, UriKind.Absolute)
                            || to.StartsWith(prefix, StringComparison.Ordinal))
                        {
                            problems.Add((ruleKey, "needs an absolute 'system' (a trailing * matches every system it starts) and a 'to' outside it"));
                            continue;
                        }

                        transforms.Add(new Pseudonymise(system!, to));
                    }

                    break;
                case "birthDate":
                    Add((p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : null) switch
                    {
                        "year" => new CoarsenBirthDate(false),
                        "month" => new CoarsenBirthDate(true),
                        _ => null,
                    }, key, "must be year or month");
                    break;
                case "postcode":
                    Add(p.Value.ValueKind == JsonValueKind.String && p.Value.GetString() == "outward" ? new TruncatePostcode() : null, key, "must be outward");
                    break;
                case "freeText":
                    Add(p.Value.ValueKind == JsonValueKind.String && p.Value.GetString() == "drop" ? new DropFreeText() : null, key, "must be drop");
                    break;
                default:
                    problems.Add((key, "unknown transform (pseudonymise, birthDate, postcode, freeText)"));
                    break;
            }
        }

        return transforms;

        void Add(PolicyTransform? transform, string key, string problem)
        {
            if (transform is null)
            {
                problems.Add((key, problem));
            }
            else
            {
                transforms.Add(transform);
            }
        }
    }

    // A top-level string that must be there.
    private static string? Required(JsonElement root, string property, string missing, List<(string Key, string Problem)> problems)
    {
        string? text = Text(root, property, problems);
        if (text is null && !root.TryGetProperty(property, out _))
        {
            problems.Add((property, missing));
        }

        return text;
    }

    // A non-empty string, or null (absent, or said to be wrong).
    private static string? Text(JsonElement e, string property, List<(string Key, string Problem)> problems, string? key = null)
    {
        if (!e.TryGetProperty(property, out JsonElement v))
        {
            return null;
        }

        if (v.ValueKind == JsonValueKind.String && v.GetString()!.Trim().Length > 0)
        {
            return v.GetString()!.Trim();
        }

        problems.Add((key ?? property, "must be a non-empty string"));
        return null;
    }
}
