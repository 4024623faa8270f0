using Hl7.Fhir.Model;
using StreamEngine.Fhir.Ids;

namespace StreamEngine.Fhir;

/// <summary>
/// Builds a transaction Bundle whose every entry is idempotent: a conditional PUT on a business identifier (an
/// upsert), a conditional create (<c>ifNoneExist</c>) for records another message type owns, or a PUT on a
/// deterministic id. Every fullUrl is derived from the entry's identity, so the same message always yields the same
/// bundle. Adding the same identity twice returns the first entry's fullUrl (a transaction may not hold two).
/// </summary>
public sealed class TransactionBundleBuilder
{
    private readonly Bundle _bundle;
    private readonly Dictionary<string, Bundle.EntryComponent> _byFullUrl = new(16, StringComparer.Ordinal); // a typical bundle without a resize

    /// <summary>Starts a bundle for one message.</summary>
    /// <param name="messageIdSystem">System of Bundle.identifier (scoped by the sender).</param>
    /// <param name="controlId">MSH-10: Bundle.identifier.value.</param>
    /// <param name="timestamp">MSH-7 as an instant, when it could be read.</param>
    public TransactionBundleBuilder(string messageIdSystem, string controlId, DateTimeOffset? timestamp)
    {
        _bundle = new Bundle
        {
            Type = Bundle.BundleType.Transaction,
            Identifier = new Identifier(messageIdSystem, controlId),
            Timestamp = timestamp,
        };
    }

    /// <summary>Different resources that had an identity already in the bundle, and were left out.</summary>
    public int DuplicatesDropped { get; private set; }

    /// <summary>The entries added so far, in order.</summary>
    public IReadOnlyList<Bundle.EntryComponent> Entries => _bundle.Entry;

    /// <summary>The fullUrl a resource keyed on <paramref name="key"/> gets in the bundle.</summary>
    public static string FullUrl(string resourceType, Identifier key) => DeterministicIds.Urn(resourceType, key.System, key.Value);

    /// <summary>The search that finds a resource by its key: <c>identifier=system|value</c>.</summary>
    public static string IdentifierQuery(Identifier key) => Query(string.Empty, "identifier=", key);

    // head + the identifier search, as one new string.
    private static string Query(string type, string head, Identifier key) =>
        string.Concat(type, head, EscapedSystem(key.System ?? string.Empty), "|", Escape(key.Value ?? string.Empty));

    // Systems are few and repeat in every message: escaped once. Values are escaped only when they need it.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> EscapedSystems = new(StringComparer.Ordinal);
    private static readonly System.Buffers.SearchValues<char> Unreserved =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~");

    private static string EscapedSystem(string system)
    {
        if (EscapedSystems.TryGetValue(system, out string? escaped))
        {
            return escaped;
        }

        escaped = Escape(system);
        if (EscapedSystems.Count < 10_000)
        {
            EscapedSystems[system] = escaped;
        }

        return escaped;
    }

    // FHIR search escaping first (a comma separates OR values, a pipe system from code, a dollar composite parts: each
    // is escaped with a backslash inside a value), then percent-encoding for the URL.
    private static string Escape(string text)
    {
        if (!text.AsSpan().ContainsAnyExcept(Unreserved))
        {
            return text;
        }

        if (text.AsSpan().IndexOfAny(@"\,|$") >= 0)
        {
            text = text.Replace(@"\", @"\\", StringComparison.Ordinal).Replace(",", @"\,", StringComparison.Ordinal)
                .Replace("|", @"\|", StringComparison.Ordinal).Replace("$", @"\$", StringComparison.Ordinal);
        }

        return Uri.EscapeDataString(text);
    }

    /// <summary>Adds an upsert: <c>PUT Type?identifier=system|value</c>. Returns the entry's fullUrl for references.</summary>
    public string AddUpsert(Resource resource, Identifier key)
    {
        string type = resource.TypeName;
        return Add(resource, FullUrl(type, key), new Bundle.RequestComponent
        {
            Method = Bundle.HTTPVerb.PUT,
            Url = Query(type, "?identifier=", key),
        });
    }

    /// <summary>
    /// Adds a create-if-absent: <c>POST Type</c> with <c>ifNoneExist: identifier=system|value</c>. An existing record
    /// (e.g. the fuller Patient an ADT feed keeps) is referred to and never overwritten.
    /// </summary>
    public string AddCreateIfAbsent(Resource resource, Identifier key)
    {
        string type = resource.TypeName;
        return Add(resource, FullUrl(type, key), new Bundle.RequestComponent
        {
            Method = Bundle.HTTPVerb.POST,
            Url = type,
            IfNoneExist = IdentifierQuery(key),
        });
    }

    /// <summary>Adds a PUT on a deterministic logical id (for resources without a business identifier, e.g. Provenance).</summary>
    public string AddPut(Resource resource, string name)
    {
        Guid id = DeterministicIds.For(resource.TypeName + "|" + name);
        resource.Id = id.ToString("D");
        return Add(resource, "urn:uuid:" + resource.Id, new Bundle.RequestComponent
        {
            Method = Bundle.HTTPVerb.PUT,
            Url = $"{resource.TypeName}/{resource.Id}",
        });
    }

    /// <summary>The resource already added under a fullUrl, or null.</summary>
    public Resource? Find(string fullUrl) => _byFullUrl.TryGetValue(fullUrl, out Bundle.EntryComponent? entry) ? entry.Resource : null;

    /// <summary>The bundle built so far.</summary>
    public Bundle Build() => _bundle;

    private string Add(Resource resource, string fullUrl, Bundle.RequestComponent request)
    {
        if (_byFullUrl.TryGetValue(fullUrl, out Bundle.EntryComponent? existing))
        {
            if (!ReferenceEquals(existing.Resource, resource) && request.Method == Bundle.HTTPVerb.PUT)
            {
                // Two upserts of one identity (e.g. two OBR with one filler number) lose the second: reported. A
                // create-if-absent of something already in the bundle (the same ward in PV1-3 and AIL-3) is the same thing.
                DuplicatesDropped++;
            }

            return fullUrl;
        }

        var entry = new Bundle.EntryComponent { FullUrl = fullUrl, Resource = resource, Request = request };
        _bundle.Entry.Add(entry);
        _byFullUrl[fullUrl] = entry;
        return fullUrl;
    }
}
