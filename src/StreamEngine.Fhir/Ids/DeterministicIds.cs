using System.Security.Cryptography;
using System.Text;

namespace StreamEngine.Fhir.Ids;

/// <summary>
/// Name-based UUIDs (RFC 9562 version 5, SHA-1) so that the same business identifier always yields the same
/// <c>urn:uuid</c> inside a bundle: the same message always gives the same bundle bytes.
/// </summary>
public static class DeterministicIds
{
    // A fixed namespace of our own, so our UUIDs never collide with another system's name-based ids.
    private static readonly Guid Namespace = new("6c1e3c2a-5b7d-4f0e-9a61-2f1d8e4b7c30");

    /// <summary>The UUID for a name, e.g. <c>Patient|system|value</c>.</summary>
    public static Guid For(string name)
    {
        Span<byte> ns = stackalloc byte[16];
        Namespace.TryWriteBytes(ns, bigEndian: true, out _);
        int length = Encoding.UTF8.GetByteCount(name);
        byte[] buffer = new byte[16 + length];
        ns.CopyTo(buffer);
        Encoding.UTF8.GetBytes(name, buffer.AsSpan(16));
        Span<byte> hash = stackalloc byte[20];
#pragma warning disable CA5350 // SHA-1 is what RFC 9562 version 5 specifies; this is an identifier, not a security hash.
        SHA1.HashData(buffer, hash);
#pragma warning restore CA5350
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true);
    }

    /// <summary>The <c>urn:uuid:</c> form used for bundle fullUrls.</summary>
    public static string Urn(string name) => "urn:uuid:" + For(name).ToString("D");
}
