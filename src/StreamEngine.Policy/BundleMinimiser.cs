using StreamEngine.Fhir;
using System.Collections;
using System.Security.Cryptography;
using System.Text;
using Hl7.Fhir.Introspection;
using Hl7.Fhir.Model;

namespace StreamEngine.Policy;

/// <summary>
/// Applies a <see cref="MinimisationPolicy"/> to a whole transaction Bundle, not only to its resources: entries of types
/// the sink may not see are dropped and every reference to them removed; each kept resource loses every element the
/// policy does not allow (extensions and narrative included); identifiers are pseudonymised with the policy's keyed
/// HMAC, and the conditional URLs that name them are rewritten; every fullUrl and the references to it are re-derived
/// with the same key (a plain hash of a 10-digit NHS number could be reversed by trying them all); and each delivered
/// resource is tagged with the policy's name and version. Mutates the bundle it is given (each sink maps its own).
/// </summary>
public sealed class BundleMinimiser : IDisposable
{
    private readonly Dictionary<string, string> _pseudonymised;
    private readonly (string Prefix, string To)[] _prefixes;
    private readonly bool _truncatePostcode;
    private readonly bool _dropFreeText;
    private readonly HMACSHA256 _hmac;
    private readonly Lock _sync = new();

    /// <summary>Creates the minimiser for one sink output; its lanes share it (thread-safe: the HMAC is taken in turns).</summary>
    public BundleMinimiser(MinimisationPolicy policy)
    {
        Policy = policy;
        _pseudonymised = policy.Transforms.OfType<Pseudonymise>().Where(p => !p.System.EndsWith('*'))
            .ToDictionary(p => p.System, p => p.To, StringComparer.Ordinal);
        _prefixes = policy.Transforms.OfType<Pseudonymise>().Where(p => p.System.EndsWith('*'))
            .Select(p => (p.System[..^1], p.To)).ToArray();
        _truncatePostcode = policy.Transforms.OfType<TruncatePostcode>().Any();
        _dropFreeText = policy.Transforms.OfType<DropFreeText>().Any();
        _hmac = new HMACSHA256(policy.Key);
    }

    /// <summary>The policy applied.</summary>
    public MinimisationPolicy Policy { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_sync)
        {
            _hmac.Dispose();
        }
    }

    /// <summary>Applies the policy; returns false when nothing of the bundle may be delivered (the sink filters it).</summary>
    public bool Apply(Bundle bundle)
    {
        var dropped = new HashSet<string>(StringComparer.Ordinal);
        var kept = new List<Bundle.EntryComponent>(bundle.Entry.Count);
        foreach (Bundle.EntryComponent entry in bundle.Entry)
        {
            if (entry.Resource is { } resource && Policy.Resources.TryGetValue(resource.TypeName, out PolicyPath? allowed))
            {
                Prune(resource, allowed, root: true);
                kept.Add(entry);
            }
            else if (entry.FullUrl is not null)
            {
                dropped.Add(entry.FullUrl);
            }
        }

        if (kept.Count == 0 || kept.TrueForAll(e => e.Resource is Provenance))
        {
            return false;
        }

        var renamed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Bundle.EntryComponent entry in kept)
        {
            if (entry.FullUrl is { } url)
            {
                renamed[url] = "urn:uuid:" + KeyedUuid(url).ToString("D");
            }
        }

        foreach (Bundle.EntryComponent entry in kept)
        {
            Resource resource = entry.Resource!;
            Transform(resource, dropped, renamed);
            entry.FullUrl = entry.FullUrl is { } url ? renamed[url] : null;
            if (resource is Provenance && entry.FullUrl is { } provenanceUrl)
            {
                resource.Id = provenanceUrl["urn:uuid:".Length..]; // its id was derived from the message id: re-derived too
                if (entry.Request is { } put)
                {
                    put.Url = "Provenance/" + resource.Id;
                }
            }
            if (entry.Request is { } request)
            {
                request.Url = Query(request.Url);
                request.IfNoneExist = Query(request.IfNoneExist);
            }

            resource.Meta ??= new Meta();
            resource.Meta.Tag.Add(new Coding(MinimisationPolicy.LabelSystem, Policy.Name) { Version = Policy.Version });
        }

        bundle.Entry = kept; // meta.source (the delivery id) stays: a journal position, no patient data
        if (bundle.Identifier is { Value: { } messageId } identifier)
        {
            identifier.Value = Pseudonym("message|" + messageId); // records are not linked across sinks by MSH-10
        }

        return true;
    }

    // Removes every element the path tree does not keep. A resource keeps its id and meta (profiles, the policy tag).
    private static void Prune(Base node, PolicyPath allowed, bool root)
    {
        foreach (PocoMember member in PocoMembers.Of(node.GetType()))
        {
            if (root && member.Name is "id" or "meta")
            {
                continue;
            }

            object? value = member.Get(node);
            if (value is null)
            {
                continue;
            }

            PolicyPath? child = allowed.Child(member.Name);
            if (child is null)
            {
                member.Clear?.Invoke(node);
                continue;
            }

            if (child.All)
            {
                StripPrimitiveExtensions(value); // a kept value, not what others attached to it (e.g. birthTime)
                continue;
            }

            switch (value)
            {
                case PrimitiveType:
                    break;
                case Base element:
                    Prune(element, child, root: false);
                    break;
                case IList list:
                    for (int i = 0; i < list.Count; i++)
                    {
                        if (list[i] is Base b and not PrimitiveType)
                        {
                            Prune(b, child, root: false);
                        }
                    }

                    break;
            }
        }
    }

    private static void StripPrimitiveExtensions(object value)
    {
        switch (value)
        {
            case PrimitiveType primitive:
                primitive.Extension = null;
                primitive.ElementId = null;
                break;
            case IList list:
                for (int i = 0; i < list.Count; i++)
                {
                    if (list[i] is PrimitiveType p)
                    {
                        p.Extension = null;
                        p.ElementId = null;
                    }
                }

                break;
        }
    }

    // One walk over the resource does every transform and fixes every reference.
    private void Transform(Resource resource, HashSet<string> dropped, Dictionary<string, string> renamed)
    {
        if (resource is Provenance provenance)
        {
            provenance.Target.RemoveAll(t => t.Reference is { } r && dropped.Contains(r));
        }

        foreach (PolicyTransform transform in Policy.Transforms)
        {
            switch (transform)
            {
                case CoarsenBirthDate c when resource is Patient patient:
                    patient.BirthDateElement = Coarse(patient.BirthDate, c.KeepMonth) is { } date ? new Date(date) : null;
                    if (patient.Deceased is FhirDateTime died)
                    {
                        patient.Deceased = Coarse(died.Value, c.KeepMonth) is { } when ? new FhirDateTime(when) : null;
                    }

                    break;
                case DropFreeText when resource is DomainResource domain:
                    domain.Text = null;
                    break;
            }
        }

        Walk(resource, node =>
        {
            switch (node)
            {
                case Identifier id when id.Value is { } value && PseudonymSystem(id) is { } to:
                    id.System = to;
                    id.Value = Pseudonym(value);
                    id.Extension.Clear(); // e.g. the tracing status: about the real number
                    id.Assigner = null;
                    id.Type = null;
                    break;
                case Address address when _truncatePostcode && address.PostalCode is { } postcode:
                    address.PostalCode = Outward(postcode);
                    break;
                case CodeableConcept concept when _dropFreeText:
                    concept.Text = null;
                    break;
                case Annotation note when _dropFreeText:
                    note.Text = "[removed]";
                    note.Author = null;
                    break;
                case HumanName name when _dropFreeText:
                    name.Text = null;
                    break;
                case Observation observation when _dropFreeText && observation.Value is FhirString:
                    observation.Value = null; // a textual result (OBX ST/TX/FT) is free text
                    break;
                case ResourceReference reference:
                    if (_dropFreeText)
                    {
                        reference.Display = null;
                    }

                    if (reference.Reference is { } target)
                    {
                        if (dropped.Contains(target))
                        {
                            reference.Reference = null;
                        }
                        else if (renamed.TryGetValue(target, out string? now))
                        {
                            reference.Reference = now;
                        }
                    }

                    break;
            }
        });
    }

    // The system an identifier's pseudonym goes in, or null when it is kept as it is. An NHS number is recognised
    // whatever its system (an NH-typed identifier, or a value that is a valid NHS number): it is pseudonymised under the
    // NHS number rule, so a number that arrived in another field or an invalid one cannot get out in clear.
    private string? PseudonymSystem(Identifier id)
    {
        string? system = id.System;
        if (system is not null && Rule(system) is { } to)
        {
            return to;
        }

        bool nhsLike = id.Type?.Coding.Exists(c => c.Code == "NH") == true
            || (id.Value is { Length: >= 10 } v && StreamEngine.Fhir.NhsNumber.Normalise(v) is not null);
        return nhsLike ? Rule(StreamEngine.Fhir.NhsNumber.System) : null;
    }

    // An exact system rule, else the longest prefix rule (a system written with a trailing '*').
    private string? Rule(string system)
    {
        if (_pseudonymised.TryGetValue(system, out string? exact))
        {
            return exact;
        }

        string? best = null;
        int length = -1;
        foreach ((string prefix, string to) in _prefixes)
        {
            if (prefix.Length > length && system.StartsWith(prefix, StringComparison.Ordinal))
            {
                best = to;
                length = prefix.Length;
            }
        }

        return best;
    }

    // Conditional URLs name an identifier: a pseudonymised system is rewritten as the identifier itself was.
    private string? Query(string? url)
    {
        int at = url?.IndexOf("identifier=", StringComparison.Ordinal) ?? -1;
        if (url is null || at < 0)
        {
            return url;
        }

        int start = at + "identifier=".Length;
        int pipe = url.IndexOf('|', start);
        if (pipe < 0)
        {
            return url;
        }

        string system = Uri.UnescapeDataString(url[start..pipe]);
        string value = Uri.UnescapeDataString(url[(pipe + 1)..]).Replace(@"\,", ",", StringComparison.Ordinal)
            .Replace(@"\|", "|", StringComparison.Ordinal).Replace(@"\$", "$", StringComparison.Ordinal).Replace(@"\\", @"\", StringComparison.Ordinal);
        string? to = Rule(system) ?? (StreamEngine.Fhir.NhsNumber.Normalise(value) is not null ? Rule(StreamEngine.Fhir.NhsNumber.System) : null);
        return to is not null ? url[..start] + Uri.EscapeDataString(to) + "|" + Pseudonym(value) : url;
    }

    private string Pseudonym(string value)
    {
        Span<byte> hash = stackalloc byte[32];
        Hash(Encoding.UTF8.GetBytes(value), hash);
        return Convert.ToHexStringLower(hash);
    }

    // The one shared, stateful part: a sink's lanes minimise in parallel and take turns only for the HMAC.
    private void Hash(ReadOnlySpan<byte> data, Span<byte> hash)
    {
        lock (_sync)
        {
            _hmac.TryComputeHash(data, hash, out _);
        }
    }

    private Guid KeyedUuid(string name)
    {
        Span<byte> hash = stackalloc byte[32];
        Hash(Encoding.UTF8.GetBytes("fullUrl|" + name), hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true);
    }

    private static string? Coarse(string? date, bool keepMonth) =>
        date is null || date.Length < 4 ? null : keepMonth && date.Length >= 7 ? date[..7] : date[..4];

    /// <summary>The outward code of a UK postcode: <c>LS1 4AP</c> -> <c>LS1</c>, <c>LS14AP</c> -> <c>LS1</c>.</summary>
    public static string Outward(string postcode)
    {
        string trimmed = postcode.Trim().ToUpperInvariant();
        int space = trimmed.IndexOf(' ', StringComparison.Ordinal);
        if (space > 0)
        {
            return trimmed[..space];
        }

        return trimmed.Length > 3 ? trimmed[..^3] : trimmed;
    }

    private static bool IsEmpty(ResourceReference r) =>
        r.Reference is null && r.Identifier is null && r.Display is null && r.Type is null;

    // Every element under a node (POCOs only), depth first.
    private static void Walk(Base node, Action<Base> visit)
    {
        visit(node);
        foreach (PocoMember member in PocoMembers.Of(node.GetType()))
        {
            switch (member.Get(node))
            {
                case null or PrimitiveType or Resource:
                    break; // primitives hold no identifiers, addresses or references; no contained resources are mapped
                case Base child:
                    Walk(child, visit);
                    if (child is ResourceReference r && IsEmpty(r))
                    {
                        member.Clear?.Invoke(node); // a reference to a dropped entry goes, rather than stay as {}
                    }

                    break;
                case IList list:
                    for (int i = 0; i < list.Count; i++)
                    {
                        if (list[i] is Base b and not Resource and not PrimitiveType)
                        {
                            Walk(b, visit);
                        }
                    }

                    for (int i = list.Count - 1; i >= 0; i--)
                    {
                        if (list[i] is ResourceReference emptied && IsEmpty(emptied))
                        {
                            list.RemoveAt(i);
                        }
                        else if (list[i] is Encounter.LocationComponent { Location: null } or Encounter.ParticipantComponent { Individual: null, Type.Count: 0 })
                        {
                            list.RemoveAt(i); // a backbone element whose only point was the reference
                        }
                    }

                    break;
            }
        }
    }
}
