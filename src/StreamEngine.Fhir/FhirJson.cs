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

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    private static readonly JsonWriterOptions Pretty = Options with { Indented = true };

    /// <summary>Serialises a resource to compact UTF-8 JSON, on one line (or indented).</summary>
    public static byte[] Serialize(Resource resource, bool indented = false)
    {
        // One growing buffer per thread: only the returned array is allocated per call.
        ArrayBufferWriter<byte> buffer = t_buffer ??= new ArrayBufferWriter<byte>(16384);
        buffer.ResetWrittenCount();
        Serialize(resource, buffer, indented);
        // The copy overwrites every byte: a bundle's ~8 KB is not zeroed first.
        byte[] result = GC.AllocateUninitializedArray<byte>(buffer.WrittenCount);
        buffer.WrittenSpan.CopyTo(result);
        if (buffer.Capacity > 1 << 20)
        {
            t_buffer = null; // a huge bundle (an embedded document) does not pin its buffer
        }

        return result;
    }

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    // What an idle reused writer points at: never written to.
    private static readonly ArrayBufferWriter<byte> Detached = new(1);

    /// <summary>Serialises a resource to compact (or indented) UTF-8 JSON into a buffer.</summary>
    public static void Serialize(Resource resource, IBufferWriter<byte> output, bool indented = false)
    {
        if (indented)
        {
            using var pretty = new Utf8JsonWriter(output, Pretty);
            FastFhirJsonWriter.Write(resource, pretty);
            pretty.Flush();
            return;
        }

        // One compact writer per thread, pointed at each output in turn (a writer is ~200 bytes and its own buffers).
        Utf8JsonWriter? writer = t_writer;
        t_writer = null; // a resource's JSON never nests another serialisation on this thread; if it did, that one gets its own
        if (writer is null)
        {
            writer = new Utf8JsonWriter(output, Options);
        }
        else
        {
            writer.Reset(output);
        }

        try
        {
            FastFhirJsonWriter.Write(resource, writer);
            writer.Flush();
        }
        catch
        {
            writer.Dispose();
            throw;
        }

        writer.Reset(Detached); // lets go of the caller's output (a plain Reset() would keep it, and what was written to it)
        t_writer = writer;
    }

    /// <summary>The same JSON written by Firely's own serializer (the reference the fast writer is tested against).</summary>
    public static byte[] SerializeWithFirely(Resource resource)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer, Options))
        {
            Serializer.Serialize(resource, writer, null!);
        }

        return buffer.WrittenSpan.ToArray();
    }
}
