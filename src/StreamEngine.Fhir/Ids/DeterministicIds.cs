using System.Buffers;
using System.IO.Hashing;
using System.Text;

namespace StreamEngine.Fhir.Ids;

/// <summary>
/// Name-based UUIDs, so that the same business identifier always yields the same <c>urn:uuid</c> inside a bundle and
/// the same message always gives the same bundle bytes. RFC 9562 version 8 (custom): XXH3-128 of a namespace of our
/// own and the UTF-8 name, with the version and variant bits set. Not a security hash: names are identifiers already
/// in the bundle; a sink that pseudonymises re-derives them with a keyed HMAC.
/// </summary>
public static class DeterministicIds
{
    // A fixed namespace of our own, so our UUIDs never collide with another system's name-based ids.
    private const ulong Namespace = 0x6c1e3c2a5b7d4f0e;

    /// <summary>The UUID for a name, e.g. <c>Patient|system|value</c>.</summary>
    public static Guid For(string name) => For(name.AsSpan());

    /// <summary>The UUID for a name given as characters.</summary>
    public static Guid For(ReadOnlySpan<char> name)
    {
        int max = Encoding.UTF8.GetMaxByteCount(name.Length);
        byte[]? rented = max > 512 ? ArrayPool<byte>.Shared.Rent(max) : null;
        Span<byte> utf8 = rented ?? stackalloc byte[512];
        int length = Encoding.UTF8.GetBytes(name, utf8);
        UInt128 hash = XxHash128.HashToUInt128(utf8[..length], unchecked((long)Namespace));
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented, clearArray: true); // it held identifier values
        }

        Span<byte> bytes = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(bytes, hash);
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80); // version 8
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 9562 variant
        return new Guid(bytes, bigEndian: true);
    }

    /// <summary>The <c>urn:uuid:</c> form used for bundle fullUrls.</summary>
    public static string Urn(string name) => Urn(For(name));

    /// <summary>
    /// The <c>urn:uuid:</c> of the name <c>first|second|third</c> (a null part is empty), without building the name:
    /// what <see cref="Urn(string)"/> gives for the joined text, for the fullUrl of every entry of every bundle.
    /// </summary>
    public static string Urn(string? first, string? second, string? third)
    {
        first ??= string.Empty;
        second ??= string.Empty;
        third ??= string.Empty;
        int length = first.Length + second.Length + third.Length + 2;
        char[]? rented = length > 256 ? ArrayPool<char>.Shared.Rent(length) : null;
        Span<char> name = rented ?? stackalloc char[256];
        first.CopyTo(name);
        int at = first.Length;
        name[at++] = '|';
        second.CopyTo(name[at..]);
        at += second.Length;
        name[at++] = '|';
        third.CopyTo(name[at..]);
        Guid id = For(name[..length]);
        if (rented is not null)
        {
            ArrayPool<char>.Shared.Return(rented, clearArray: true); // it held identifier values
        }

        return Urn(id);
    }

    /// <summary><c>urn:uuid:</c> and the UUID in its <c>D</c> form, as one new string.</summary>
    public static string Urn(Guid id) => string.Create(45, id, static (span, g) =>
    {
        "urn:uuid:".CopyTo(span);
        g.TryFormat(span[9..], out _, "D");
    });
}
