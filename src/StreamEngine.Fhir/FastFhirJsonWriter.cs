using System.Collections;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Hl7.Fhir.Model;

namespace StreamEngine.Fhir;

/// <summary>
/// Writes Firely POCOs as FHIR JSON, byte for byte what Firely's own <c>BaseFhirJsonSerializer</c> writes (a test holds
/// it to that over every golden and corpus bundle), faster and with far less garbage: each type's elements come from
/// <see cref="PocoMembers"/> (listed once, read through their backing fields, names encoded once), where Firely's
/// serializer enumerates iterators and buffers and prunes every element.
/// <para>Empty elements are left out, as FHIR requires, in one pass: an object or array is opened in the output only
/// when the first value inside it is written (a stack of deferred openings), so no subtree is walked twice to find
/// out whether it holds anything.</para>
/// </summary>
internal sealed class FastFhirJsonWriter
{
    private static readonly JsonEncodedText ResourceType = JsonEncodedText.Encode("resourceType");
    private static readonly JsonEncodedText Id = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText Extension = JsonEncodedText.Encode("extension");

    private static readonly Func<Base, object?> PrimitiveExtensions =
        PocoMembers.Of(typeof(FhirString)).Single(m => m.Name == "extension").Get;

    private readonly Utf8JsonWriter _writer;
    private Frame[] _frames = new Frame[32];
    private int _depth;   // frames open in the walk
    private int _written; // of those, the ones already opened in the output (always the outermost)

    private FastFhirJsonWriter(Utf8JsonWriter writer) => _writer = writer;

    private enum Kind : byte
    {
        Object,
        Array,
        Item,
    }

    /// <summary>Writes a resource (or any POCO) as a JSON object (an empty one too).</summary>
    public static void Write(Base poco, Utf8JsonWriter writer)
    {
        var walk = new FastFhirJsonWriter(writer);
        walk.Push(Kind.Item, default);
        walk.Emit();
        walk.WriteMembers(poco);
        walk.Pop();
    }

    private void Push(Kind kind, JsonEncodedText name)
    {
        if (_depth == _frames.Length)
        {
            Array.Resize(ref _frames, _depth * 2);
        }

        _frames[_depth++] = new Frame(kind, name);
    }

    // Opens in the output every frame not opened yet: a value is about to be written inside them.
    private void Emit()
    {
        for (; _written < _depth; _written++)
        {
            Frame frame = _frames[_written];
            switch (frame.Kind)
            {
                case Kind.Object:
                    _writer.WriteStartObject(frame.Name);
                    break;
                case Kind.Array:
                    _writer.WriteStartArray(frame.Name);
                    break;
                default:
                    _writer.WriteStartObject();
                    break;
            }
        }
    }

    // Closes the innermost frame, in the output only if it was opened there.
    private void Pop()
    {
        Kind kind = _frames[--_depth].Kind;
        if (_written > _depth)
        {
            _written = _depth;
            if (kind == Kind.Array)
            {
                _writer.WriteEndArray();
            }
            else
            {
                _writer.WriteEndObject();
            }
        }
    }

    private void WriteMembers(Base poco)
    {
        if (poco is Resource resource)
        {
            Emit();
            _writer.WriteString(ResourceType, resource.TypeName);
        }

        // The declared shape picks the branch, so most values need no type test (casts are unchecked where the
        // shape guarantees the type); only choices and field-less elements are told apart by their value.
        foreach (PocoMember member in PocoMembers.Of(poco.GetType()))
        {
            object? value = member.Get(poco);
            if (value is null)
            {
                continue;
            }

            switch (member.Shape)
            {
                case PocoShape.Primitive:
                    WritePrimitive(member.JsonName, member.JsonExtraName, Unsafe.As<PrimitiveType>(value));
                    break;
                case PocoShape.Complex:
                    Push(Kind.Object, member.JsonName);
                    WriteMembers(Unsafe.As<Base>(value));
                    Pop();
                    break;
                case PocoShape.PrimitiveList:
                    if (Unsafe.As<IList>(value).Count > 0)
                    {
                        WritePrimitiveList(member.JsonName, member.JsonExtraName, Unsafe.As<IList>(value));
                    }

                    break;
                case PocoShape.ComplexList:
                    if (Unsafe.As<IList>(value).Count > 0)
                    {
                        WriteComplexList(member.JsonName, Unsafe.As<IList>(value));
                    }

                    break;
                case PocoShape.Text:
                    Emit();
                    _writer.WriteString(member.JsonName, Unsafe.As<string>(value)); // Element.id, Extension.url
                    break;
                default:
                    WriteAny(member, value);
                    break;
            }
        }
    }

    private void WriteAny(PocoMember member, object value)
    {
        switch (value)
        {
            case PrimitiveType primitive:
                (JsonEncodedText name, JsonEncodedText extra) = member.Choice ? member.ChoiceNames(primitive.TypeName) : (member.JsonName, member.JsonExtraName);
                WritePrimitive(name, extra, primitive);
                break;
            case Base child:
                Push(Kind.Object, member.Choice ? member.ChoiceNames(child.TypeName).Name : member.JsonName);
                WriteMembers(child);
                Pop();
                break;
            case IList { Count: > 0 } list:
                WriteList(member.JsonName, member.JsonExtraName, list);
                break;
            case string text:
                Emit();
                _writer.WriteString(member.JsonName, text);
                break;
        }
    }

    private void WriteList(JsonEncodedText name, JsonEncodedText extraName, IList list)
    {
        if (list[0] is PrimitiveType)
        {
            WritePrimitiveList(name, extraName, list);
        }
        else
        {
            WriteComplexList(name, list);
        }
    }

    private void WriteComplexList(JsonEncodedText name, IList list)
    {
        int count = list.Count;
        Push(Kind.Array, name);
        for (int i = 0; i < count; i++)
        {
            Push(Kind.Item, default);
            WriteMembers((Base)list[i]!);
            Pop();
        }

        Pop();
    }

    private void WritePrimitiveList(JsonEncodedText name, JsonEncodedText extraName, IList list)
    {
        int count = list.Count;
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
            Push(Kind.Array, name);
            Emit();
            for (int i = 0; i < count; i++)
            {
                WriteValue(((PrimitiveType)list[i]!).JsonValue);
            }

            Pop();
        }

        if (anyExtra)
        {
            Push(Kind.Array, extraName);
            Emit();
            for (int i = 0; i < count; i++)
            {
                var p = (PrimitiveType)list[i]!;
                if (HasExtra(p))
                {
                    WriteExtra(Kind.Item, default, p);
                }
                else
                {
                    _writer.WriteNullValue();
                }
            }

            Pop();
        }
    }

    private void WritePrimitive(JsonEncodedText name, JsonEncodedText extraName, PrimitiveType primitive)
    {
        object? value = primitive.JsonValue;
        if (value is not null)
        {
            Emit();
            _writer.WritePropertyName(name);
            WriteValue(value);
        }

        if (HasExtra(primitive))
        {
            WriteExtra(Kind.Object, extraName, primitive);
        }
    }

    // A primitive's id and extensions, as an object written even when its extensions turn out empty (as Firely does).
    private void WriteExtra(Kind kind, JsonEncodedText name, PrimitiveType primitive)
    {
        Push(kind, name);
        Emit();
        if (primitive.ElementId is { } id)
        {
            _writer.WriteString(Id, id);
        }

        if (primitive.Extension.Count > 0)
        {
            WriteComplexList(Extension, primitive.Extension);
        }

        Pop();
    }

    // Not p.Extension.Count: Firely creates the list on first read, which would allocate one per primitive. Read from
    // its backing field (the member's getter), not by name through TryGetValue (a string switch per primitive).
    private static bool HasExtra(PrimitiveType p) =>
        p.ElementId is not null || PrimitiveExtensions(p) is IList { Count: > 0 };

    private void WriteValue(object? value)
    {
        Utf8JsonWriter writer = _writer;
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

    private readonly record struct Frame(Kind Kind, JsonEncodedText Name);
}
