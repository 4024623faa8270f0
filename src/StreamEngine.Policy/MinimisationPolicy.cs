using System.Collections.Frozen;

namespace StreamEngine.Policy;

/// <summary>A transformation a policy applies after pruning.</summary>
public abstract record PolicyTransform;

/// <summary>Identifiers of <paramref name="System"/> become keyed HMAC-SHA256 pseudonyms in <paramref name="To"/>.</summary>
public sealed record Pseudonymise(string System, string To) : PolicyTransform;

/// <summary>birthDate (and deceasedDateTime) to the year or the year and month.</summary>
public sealed record CoarsenBirthDate(bool KeepMonth) : PolicyTransform;

/// <summary>Postcodes to their outward code (<c>LS1 4AP</c> -> <c>LS1</c>).</summary>
public sealed record TruncatePostcode : PolicyTransform;

/// <summary>Free text removed: narrative, <c>text</c> of CodeableConcepts, notes, comments, displays of references.</summary>
public sealed record DropFreeText : PolicyTransform;

/// <summary>
/// What one sink may see: the resource types it gets, per type the elements kept (everything else goes, extensions and
/// narrative included), and the transformations applied to what is kept. Loaded from config/policies/*.json by
/// <see cref="PolicyLoader"/>; applied to whole bundles by <see cref="BundleMinimiser"/>.
/// </summary>
public sealed class MinimisationPolicy
{
    /// <summary>Policy name, stamped on every delivered resource.</summary>
    public required string Name { get; init; }

    /// <summary>Policy version, stamped too.</summary>
    public required string Version { get; init; }

    /// <summary>Allowed elements per resource type; a type not listed is not delivered.</summary>
    public required FrozenDictionary<string, PolicyPath> Resources { get; init; }

    /// <summary>Transformations, in order.</summary>
    public IReadOnlyList<PolicyTransform> Transforms { get; init; } = [];

    /// <summary>The HMAC key for pseudonyms and re-derived bundle ids (from a secret file).</summary>
    public required byte[] Key { get; init; }

    /// <summary>The system of the security label stamped on delivered resources.</summary>
    public const string LabelSystem = "https://streamengine.dev/fhir/CodeSystem/minimisation-policy";
}
