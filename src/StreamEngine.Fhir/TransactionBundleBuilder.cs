using Hl7.Fhir.Model;
using StreamEngine.Fhir.Ids;

namespace StreamEngine.Fhir;

/// <summary>
/// Builds a transaction Bundle whose every entry is idempotent: a conditional PUT on a business identifier, with a
/// fullUrl derived deterministically from that identifier.
/// </summary>
public sealed class TransactionBundleBuilder
{
    private readonly Bundle _bundle;

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

    /// <summary>The fullUrl a resource keyed on <paramref name="key"/> gets in the bundle.</summary>
    public static string FullUrl(string resourceType, Identifier key) => DeterministicIds.Urn($"{resourceType}|{key.System}|{key.Value}");

    /// <summary>Adds an upsert: <c>PUT Type?identifier=system|value</c>. Returns the entry's fullUrl for references.</summary>
    public string AddUpsert(Resource resource, Identifier key)
    {
        string type = resource.TypeName;
        string fullUrl = FullUrl(type, key);
        _bundle.Entry.Add(new Bundle.EntryComponent
        {
            FullUrl = fullUrl,
            Resource = resource,
            Request = new Bundle.RequestComponent
            {
                Method = Bundle.HTTPVerb.PUT,
                Url = $"{type}?identifier={Uri.EscapeDataString(key.System ?? string.Empty)}|{Uri.EscapeDataString(key.Value ?? string.Empty)}",
            },
        });
        return fullUrl;
    }

    /// <summary>The bundle built so far.</summary>
    public Bundle Build() => _bundle;
}
