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
public sealed class BundleMinimiser(MinimisationPolicy policy)
{
    /// <summary>The policy applied.</summary>
    public MinimisationPolicy Policy { get; } = policy;

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
            Transform(resource);
            References(resource, dropped, renamed);
            entry.FullUrl = entry.FullUrl is { } url ? renamed[url] : null;
            if (entry.Request is { } request)
            {
                request.Url = Query(request.Url);
                request.IfNoneExist = Query(request.IfNoneExist);
            }

            resource.Meta ??= new Meta();
            resource.Meta.Tag.Add(new Coding(MinimisationPolicy.LabelSystem, Policy.Name) { Version = Policy.Version });
        }

        bundle.Entry = kept; // meta.source (the delivery id) stays: a journal position, no patient data
        return true;
    }

    // Removes every element the path tree does not keep. A resource keeps its id and meta (profiles, the policy tag).
    private static void Prune(Base node, PolicyPath allowed, bool root)
    {
        ClassMapping? mapping = Hl7.Fhir.Model.ModelInfo.ModelInspector.FindOrImportClassMapping(node.GetType());
        if (mapping is null)
        {
            return;
        }

        foreach (PropertyMapping property in mapping.PropertyMappings)
        {
            string name = property.Name;
            if (root && name is "id" or "meta")
            {
                continue;
            }

            PolicyPath? child = allowed.Child(name);
            if (child is null)
            {
                if (property.NativeProperty is { CanWrite: true } setter && node.TryGetValue(name, out _))
                {
                    setter.SetValue(node, null);
                }

                continue;
            }

            if (child.All || !node.TryGetValue(name, out object? value))
            {
                continue;
            }

            switch (value)
            {
                case Base element when element is not PrimitiveType:
                    Prune(element, child, root: false);
                    break;
                case IEnumerable list:
                    foreach (object item in list)
                    {
                        if (item is Base b and not PrimitiveType)
                        {
                            Prune(b, child, root: false);
                        }
                    }

                    break;
            }
        }
    }

    private void Transform(Resource resource)
    {
        foreach (PolicyTransform transform in Policy.Transforms)
        {
            switch (transform)
            {
                case Pseudonymise p:
                    Walk(resource, node =>
                    {
                        if (node is Identifier id && id.System == p.System && id.Value is { } value)
                        {
                            id.System = p.To;
                            id.Value = Pseudonym(value);
                            id.Extension.Clear(); // e.g. the tracing status: about the real number
                            id.Assigner = null;
                        }
                    });
                    break;
                case CoarsenBirthDate c:
                    if (resource is Patient patient)
                    {
                        patient.BirthDateElement = Coarse(patient.BirthDate, c.KeepMonth) is { } date ? new Date(date) : null;
                        if (patient.Deceased is FhirDateTime died)
                        {
                            patient.Deceased = Coarse(died.Value, c.KeepMonth) is { } when ? new FhirDateTime(when) : null;
                        }
                    }

                    break;
                case TruncatePostcode:
                    Walk(resource, node =>
                    {
                        if (node is Address address && address.PostalCode is { } postcode)
                        {
                            address.PostalCode = Outward(postcode);
                        }
                    });
                    break;
                case DropFreeText:
                    if (resource is DomainResource domain)
                    {
                        domain.Text = null;
                    }

                    Walk(resource, node =>
                    {
                        switch (node)
                        {
                            case CodeableConcept concept:
                                concept.Text = null;
                                break;
                            case ResourceReference reference:
                                reference.Display = null;
                                break;
                            case Annotation note:
                                note.Text = "[removed]";
                                break;
                        }
                    });
                    break;
            }
        }
    }

    // References to dropped entries are removed (Provenance.target entries with them); renamed ones follow their entry.
    private static void References(Resource resource, HashSet<string> dropped, Dictionary<string, string> renamed)
    {
        if (resource is Provenance provenance)
        {
            provenance.Target.RemoveAll(t => t.Reference is { } r && dropped.Contains(r));
        }

        Walk(resource, node =>
        {
            if (node is ResourceReference reference && reference.Reference is { } target)
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
        });
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
        foreach (PolicyTransform transform in Policy.Transforms)
        {
            if (transform is Pseudonymise p && p.System == system)
            {
                return url[..start] + Uri.EscapeDataString(p.To) + "|" + Pseudonym(value);
            }
        }

        return url;
    }

    private string Pseudonym(string value) => Convert.ToHexStringLower(HMACSHA256.HashData(Policy.Key, Encoding.UTF8.GetBytes(value)));

    private Guid KeyedUuid(string name)
    {
        Span<byte> hash = stackalloc byte[32];
        HMACSHA256.HashData(Policy.Key, Encoding.UTF8.GetBytes("fullUrl|" + name), hash);
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

    // Every element under a node (POCOs only), depth first.
    private static void Walk(Base node, Action<Base> visit)
    {
        visit(node);
        foreach (KeyValuePair<string, object> element in node.EnumerateElements())
        {
            switch (element.Value)
            {
                case Resource:
                    break; // contained resources are not produced by the mapping
                case Base child:
                    Walk(child, visit);
                    break;
                case IEnumerable list and not string:
                    foreach (object item in list)
                    {
                        if (item is Base b and not Resource)
                        {
                            Walk(b, visit);
                        }
                    }

                    break;
            }
        }
    }
}
