using System.Collections;
using System.Text.Json;
using Hl7.Fhir.Model;

namespace StreamEngine.Fhir;

/// <summary>
/// Writes Firely POCOs as FHIR JSON, byte for byte what Firely's own <c>BaseFhirJsonSerializer</c> writes (a test holds
/// it to that over every golden and corpus bundle), faster and with far less garbage: each type's elements come from
/// <see cref="PocoMembers"/> (listed once, read through their backing fields), where Firely's serializer enumerates
/// iterators and buffers and prunes every element. Empty elements are left out, as FHIR requires.
/// </summary>
internal static class FastFhirJsonWriter
{
    /// <summary>Writes a resource (or any POCO) as a JSON object.</summary>
    public static void Write(Base poco, Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        WriteMembers(poco, writer);
        writer.WriteEndObject();
    }

    private static void WriteMembers(Base poco, Utf8JsonWriter writer)
    {
        if (poco is Resource resource)
        {
            writer.WriteString("resourceType"u8, resource.TypeName);
        }

        foreach (PocoMember member in PocoMembers.Of(poco.GetType()))
        {
            object? value = member.Get(poco);
            if (value is null)
            {
                continue;
            }

            string name = member.Name;
            switch (value)
            {
                case PrimitiveType primitive:
                    WritePrimitive(member.Choice ? name + Suffix(primitive) : name, primitive, writer);
                    break;
                case Base child:
                    if (!HasContent(child))
                    {
                        continue;
                    }

                    writer.WritePropertyName(member.Choice ? name + Suffix(child) : name);
                    Write(child, writer);
                    break;
                case IList list when list.Count > 0:
                    WriteList(name, list, writer);
                    break;
                case string text:
                    writer.WriteString(name, text); // Element.id, Extension.url
                    break;
            }
        }
    }

    private static void WriteList(string name, IList list, Utf8JsonWriter writer)
    {
        int count = list.Count;
        if (list[0] is PrimitiveType)
        {
            bool anyValue = false;
            bool anyExtra = false;
            for (int i = 0; i < count; i++)
            {
                var p = (PrimitiveType)list[i]!;
                anyValue |= p.JsonValue is not null;
                anyExtra |= HasExtra(p);
            }

            if (anyValue)
            {
                writer.WriteStartArray(name);
                for (int i = 0; i < count; i++)
                {
                    WriteValue(((PrimitiveType)list[i]!).JsonValue, writer);
                }

                writer.WriteEndArray();
            }

            if (anyExtra)
            {
                writer.WriteStartArray("_" + name);
                for (int i = 0; i < count; i++)
                {
                    var p = (PrimitiveType)list[i]!;
                    if (HasExtra(p))
                    {
                        writer.WriteStartObject();
                        WriteExtra(p, writer);
                        writer.WriteEndObject();
                    }
                    else
                    {
                        writer.WriteNullValue();
                    }
                }

                writer.WriteEndArray();
            }

            return;
        }

        bool started = false;
        for (int i = 0; i < count; i++)
        {
            var item = (Base)list[i]!;
            if (!HasContent(item))
            {
                continue;
            }

            if (!started)
            {
                writer.WriteStartArray(name);
                started = true;
            }

            Write(item, writer);
        }

        if (started)
        {
            writer.WriteEndArray();
        }
    }

    private static void WritePrimitive(string name, PrimitiveType primitive, Utf8JsonWriter writer)
    {
        object? value = primitive.JsonValue;
        if (value is not null)
        {
            writer.WritePropertyName(name);
            WriteValue(value, writer);
        }

        if (HasExtra(primitive))
        {
            writer.WriteStartObject("_" + name);
            WriteExtra(primitive, writer);
            writer.WriteEndObject();
        }
    }

    private static void WriteExtra(PrimitiveType primitive, Utf8JsonWriter writer)
    {
        if (primitive.ElementId is { } id)
        {
            writer.WriteString("id"u8, id);
        }

        if (primitive.Extension.Count > 0)
        {
            WriteList("extension", primitive.Extension, writer);
        }
    }

    // Not p.Extension.Count: Firely creates the list on first read, which would allocate one per primitive.
    private static bool HasExtra(PrimitiveType p) =>
        p.ElementId is not null || (p.TryGetValue("extension", out object? extensions) && extensions is IList { Count: > 0 });

    private static void WriteValue(object? value, Utf8JsonWriter writer)
    {
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string s:
                writer.WriteStringValue(s);
                break;
            case bool b:
                writer.WriteBooleanValue(b);
                break;
            case int i:
                writer.WriteNumberValue(i);
                break;
            case long l:
                writer.WriteNumberValue(l);
                break;
            case decimal d:
                writer.WriteNumberValue(d);
                break;
            case double d:
                writer.WriteNumberValue(d);
                break;
            case byte[] bytes:
                writer.WriteBase64StringValue(bytes);
                break;
            default:
                throw new NotSupportedException("FHIR primitive JSON value of type " + value.GetType().Name);
        }
    }

    private static bool HasContent(Base poco)
    {
        if (poco is PrimitiveType primitive)
        {
            return primitive.JsonValue is not null || HasExtra(primitive);
        }

        if (poco is Resource)
        {
            return true;
        }

        foreach (PocoMember member in PocoMembers.Of(poco.GetType()))
        {
            switch (member.Get(poco))
            {
                case Base child when HasContent(child):
                    return true;
                case string:
                    return true;
                case IList list:
                    for (int i = 0; i < list.Count; i++)
                    {
                        if (list[i] is Base b && HasContent(b))
                        {
                            return true;
                        }
                    }

                    break;
            }
        }

        return false;
    }

    private static string Suffix(Base value)
    {
        string type = value.TypeName;
        return char.ToUpperInvariant(type[0]) + type[1..];
    }
}
