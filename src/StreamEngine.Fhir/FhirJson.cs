using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace StreamEngine.Fhir;

/// <summary>Compact FHIR JSON (UTF-8) with the Firely POCO serializer. Thread-safe.</summary>
public static class FhirJson
{
    private static readonly BaseFhirJsonSerializer Serializer = new(ModelInfo.ModelInspector);

    // Relaxed escaping keeps '+' in offsets and non-ASCII names readable; the output is NDJSON or an HTTP body,
    // never embedded in HTML.
    private static readonly JsonWriterOptions Options = new()
    {
        Indented = false,
        SkipValidation = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static readonly JsonWriterOptions Pretty = Options with { Indented = true };

    /// <summary>Serialises a resource to compact UTF-8 JSON, on one line (or indented).</summary>
    public static byte[] Serialize(Resource resource, bool indented = false)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        Serialize(resource, buffer, indented);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Serialises a resource to compact (or indented) UTF-8 JSON into a buffer.</summary>
    public static void Serialize(Resource resource, IBufferWriter<byte> output, bool indented = false)
    {
        using var writer = new Utf8JsonWriter(output, indented ? Pretty : Options);
        Serializer.Serialize(resource, writer, null!);
        writer.Flush();
    }
}
