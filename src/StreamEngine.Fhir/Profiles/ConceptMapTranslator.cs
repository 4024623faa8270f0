using System.Collections.Frozen;
using Hl7.Fhir.Model;

namespace StreamEngine.Fhir.Profiles;

/// <summary>
/// A FHIR ConceptMap as a lookup: (source system, code) -> target codings. Only equivalences that say the target
/// stands for the source (equivalent, equal, wider, subsumes, narrower, specializes, inexact, relatedto) are used.
/// A group without a source system matches a code from any system.
/// </summary>
public sealed class ConceptMapTranslator
{
    private readonly FrozenDictionary<string, Coding[]> _bySystemAndCode;

    /// <summary>Builds the lookup from a ConceptMap.</summary>
    public ConceptMapTranslator(ConceptMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        Url = map.Url;
        var lookup = new Dictionary<string, List<Coding>>(StringComparer.Ordinal);
        foreach (ConceptMap.GroupComponent group in map.Group)
        {
            foreach (ConceptMap.SourceElementComponent element in group.Element)
            {
                if (string.IsNullOrEmpty(element.Code))
                {
                    continue;
                }

                foreach (ConceptMap.TargetElementComponent target in element.Target)
                {
                    if (string.IsNullOrEmpty(target.Code) || target.Equivalence is ConceptMapEquivalence.Unmatched or ConceptMapEquivalence.Disjoint)
                    {
                        continue;
                    }

                    string key = Key(group.Source, element.Code);
                    if (!lookup.TryGetValue(key, out List<Coding>? list))
                    {
                        lookup[key] = list = [];
                    }

                    list.Add(new Coding(group.Target, target.Code, target.Display));
                }
            }
        }

        _bySystemAndCode = lookup.ToFrozenDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.Ordinal);
    }

    /// <summary>The ConceptMap's canonical URL.</summary>
    public string? Url { get; }

    /// <summary>Number of mapped source codes.</summary>
    public int Count => _bySystemAndCode.Count;

    /// <summary>The target codings of a source code (system may be null), or an empty list.</summary>
    public IReadOnlyList<Coding> Translate(string? system, string code)
    {
        if (system is not null && _bySystemAndCode.TryGetValue(Key(system, code), out Coding[]? exact))
        {
            return exact;
        }

        return _bySystemAndCode.TryGetValue(Key(null, code), out Coding[]? any) ? any : [];
    }

    private static string Key(string? system, string code) => (system ?? string.Empty) + "|" + code;
}
