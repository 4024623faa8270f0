using Hl7.Fhir.Introspection;
using Hl7.Fhir.Model;

namespace StreamEngine.Policy;

/// <summary>
/// The allowed elements of one resource type as a tree: <c>Patient.address.postalCode</c> keeps that element (and
/// everything under it) and, on its way, only the parents it needs.
/// </summary>
public sealed class PolicyPath
{
    private readonly Dictionary<string, PolicyPath> _children = new(StringComparer.Ordinal);

    /// <summary>True when the whole subtree is kept.</summary>
    public bool All { get; private set; }

    /// <summary>The allowed child element, or null when the element is removed.</summary>
    public PolicyPath? Child(string name) => All ? this : _children.GetValueOrDefault(name);

    /// <summary>True when <paramref name="name"/> is kept entirely.</summary>
    public bool Keeps(string name) => All || (_children.TryGetValue(name, out PolicyPath? child) && child.All);

    /// <summary>
    /// Adds a path (without the resource type), checked against the FHIR model: every step must be an element of the
    /// type it is in. Returns null, or the step that is not.
    /// </summary>
    public string? Add(ClassMapping type, IReadOnlyList<string> steps)
    {
        PolicyPath node = this;
        ClassMapping? current = type;
        foreach (string step in steps)
        {
            if (current is null)
            {
                return step; // below a choice or a primitive: nothing to name
            }

            bool choice = step.EndsWith("[x]", StringComparison.Ordinal);
            string name = choice ? step[..^3] : step;
            PropertyMapping? property = current.FindMappedElementByName(name);
            if (property is null || choice != (property.Choice == ChoiceType.DatatypeChoice))
            {
                return step; // unknown, or [x] on an element that is not a choice (or a choice named without it)
            }

            if (!node._children.TryGetValue(name, out PolicyPath? child))
            {
                node._children[name] = child = new PolicyPath();
            }

            node = child;
            current = property.Choice == ChoiceType.None && property.PropertyTypeMapping is { IsFhirPrimitive: false } element ? element : null;
        }

        node.All = true;
        return null;
    }
}
