using System.Collections;
using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using Hl7.Fhir.Model;
using Linq = System.Linq.Expressions;

namespace StreamEngine.Fhir;

/// <summary>
/// Writes Firely POCOs as FHIR JSON, byte for byte what Firely's own <c>BaseFhirJsonSerializer</c> writes (a test holds
/// it to that over every golden and corpus bundle, and FhirJsonWriterTests over shapes the mapping rarely builds), faster
/// and with far less garbage: each type is written by a method compiled once from its <see cref="PocoMembers"/> (read
/// from their backing fields in line, names encoded once), where Firely's serializer enumerates iterators and buffers
/// and prunes every element.
/// <para>Empty elements are left out, as FHIR requires, in one pass: an object or array is opened in the output only
/// when the first value inside it is written (a stack of deferred openings), so no subtree is walked twice to find
/// out whether it holds anything.</para>
/// </summary>
internal sealed class FastFhirJsonWriter
{
    private static readonly JsonEncodedText ResourceType = JsonEncodedText.Encode("resourceType");
    private static readonly JsonEncodedText Id = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText IdExtra = JsonEncodedText.Encode("_id");
    private static readonly JsonEncodedText Extension = JsonEncodedText.Encode("extension");

    private static readonly Func<Base, object?> PrimitiveExtensions =
        PocoMembers.Of(typeof(FhirString)).Single(m => m.Name == "extension").Get;

    private static readonly ConcurrentDictionary<Type, Action<FastFhirJsonWriter, Base>> Writers = new();

    private Utf8JsonWriter _writer;
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

    [ThreadStatic]
    private static FastFhirJsonWriter? t_walk;

    /// <summary>Writes a resource (or any POCO) as a JSON object (an empty one too).</summary>
    public static void Write(Base poco, Utf8JsonWriter writer)
    {
        // One walk (and its frame stack) per thread, reused: taken off the thread while in use, so a nested call gets its own.
        FastFhirJsonWriter walk = t_walk ?? new FastFhirJsonWriter(writer);
        t_walk = null;
        walk._writer = writer;
        walk._depth = 0;
        walk._written = 0;
        walk.Push(Kind.Item, default);
        walk.Emit();
        walk.WriteMembers(poco);
        walk.Pop();
        walk._writer = null!;
        if (walk._frames.Length <= 256)
        {
            t_walk = walk; // a pathological depth does not pin its stack
        }
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

    // Writes a POCO's members through its type's compiled writer (the call site keeps the writer of the first type it saw).
    private void WriteMembers(Base poco, Site site)
    {
        Type type = poco.GetType();
        if (site.First is { } first && first.Type == type)
        {
            first.Writer(this, poco);
        }
        else if (site.First is null)
        {
            (site.First = new Site.Entry(type, WriterFor(type))).Writer(this, poco);
        }
        else
        {
            WriterFor(type)(this, poco); // a site that sees several types (Bundle.entry.resource) looks each up
        }
    }

    private void WriteMembers(Base poco) => WriterFor(poco.GetType())(this, poco);

    private static Action<FastFhirJsonWriter, Base> WriterFor(Type type) => Writers.GetOrAdd(type, Compile);

    // One method per POCO type, compiled once: its members in FHIR order, each read from its backing field and tested for
    // null in line, so an absent element costs a field load (no delegate call per member, no walk over a member list, no
    // cast of a typed list's items). The declared shape picks the write; only choices and field-less elements are told
    // apart by their value (WriteAny).
    private static Action<FastFhirJsonWriter, Base> Compile(Type type)
    {
        Linq.ParameterExpression walk = Linq.Expression.Parameter(typeof(FastFhirJsonWriter), "walk");
        Linq.ParameterExpression poco = Linq.Expression.Parameter(typeof(Base), "poco");
        Linq.ParameterExpression typed = Linq.Expression.Variable(type, "typed");
        var body = new List<Linq.Expression> { Linq.Expression.Assign(typed, Linq.Expression.Convert(poco, type)) };
        if (typeof(Resource).IsAssignableFrom(type))
        {
            body.Add(Call(walk, nameof(WriteResourceType), Linq.Expression.Convert(poco, typeof(Resource))));
        }

        foreach (PocoMember member in PocoMembers.Of(type))
        {
            Linq.ConstantExpression constant = Linq.Expression.Constant(member);
            if (member.Field is not { } field)
            {
                body.Add(Call(walk, nameof(WriteByName), constant, poco));
                continue;
            }

            Linq.Expression value = Linq.Expression.Field(typed, field);
            Linq.Expression write = member.Shape switch
            {
                PocoShape.Primitive => Call(walk, nameof(WritePrimitive), constant, Linq.Expression.Convert(value, typeof(PrimitiveType))),
                PocoShape.Complex => Call(walk, nameof(WriteComplex), constant, Linq.Expression.Constant(new Site()), Linq.Expression.Convert(value, typeof(Base))),
                PocoShape.PrimitiveList => Call(walk, nameof(WritePrimitiveList), constant, Linq.Expression.Convert(value, typeof(IList))),
                PocoShape.ComplexList => Linq.Expression.Call(walk,
                    typeof(FastFhirJsonWriter).GetMethod(nameof(WriteComplexListOf), BindingFlags.Instance | BindingFlags.NonPublic)!
                        .MakeGenericMethod(field.FieldType.GetGenericArguments()[0]),
                    constant, Linq.Expression.Constant(new Site()), value),
                PocoShape.Text => Call(walk, nameof(WriteText), constant, Linq.Expression.Convert(value, typeof(string))),
                _ => Call(walk, nameof(WriteAny), constant, Linq.Expression.Convert(value, typeof(object))),
            };
            body.Add(Linq.Expression.IfThen(Linq.Expression.NotEqual(value, Linq.Expression.Constant(null, field.FieldType)), write));
        }

        return Linq.Expression.Lambda<Action<FastFhirJsonWriter, Base>>(Linq.Expression.Block([typed], body), walk, poco).Compile();
    }

    private static Linq.MethodCallExpression Call(Linq.Expression walk, string method, params Linq.Expression[] arguments) =>
        Linq.Expression.Call(walk, typeof(FastFhirJsonWriter).GetMethod(method, BindingFlags.Instance | BindingFlags.NonPublic,
            arguments.Select(a => a.Type).ToArray())!, arguments);

    private void WriteResourceType(Resource resource)
    {
        Emit();
        _writer.WriteString(ResourceType, resource.TypeName);
    }

    private void WritePrimitive(PocoMember member, PrimitiveType value) => WritePrimitive(member.JsonName, member.JsonExtraName, value);

    private void WriteComplex(PocoMember member, Site site, Base value)
    {
        Push(Kind.Object, member.JsonName);
        WriteMembers(value, site);
        Pop();
    }

    private void WritePrimitiveList(PocoMember member, IList value)
    {
        if (value.Count > 0)
        {
            WritePrimitiveList(member.JsonName, member.JsonExtraName, value);
        }
    }

    private void WriteComplexListOf<T>(PocoMember member, Site site, List<T>? list)
        where T : Base
    {
        int count = list!.Count;
        if (count == 0)
        {
            return;
        }

        Push(Kind.Array, member.JsonName);
        for (int i = 0; i < count; i++)
        {
            if (list[i] is not { } item)
            {
                WriteNullItem();
                continue;
            }

            Push(Kind.Item, default);
            WriteMembers(item, site);
            Pop();
        }

        Pop();
    }

    private void WriteText(PocoMember member, string value)
    {
        Emit();
        _writer.WriteString(member.JsonName, value); // Element.id, Extension.url
    }

    // An element with no backing field: read by name (Firely's TryGetValue).
    private void WriteByName(PocoMember member, Base poco)
    {
        if (member.Get(poco) is { } value)
        {
            WriteAny(member, value);
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
            if (list[i] is not Base item)
            {
                WriteNullItem();
                continue;
            }

            Push(Kind.Item, default);
            WriteMembers(item);
            Pop();
        }

        Pop();
    }

    // A null in a list (never built by the mapping) is written as null, as Firely writes it.
    private void WriteNullItem()
    {
        Emit();
        _writer.WriteNullValue();
    }

    private void WritePrimitiveList(JsonEncodedText name, JsonEncodedText extraName, IList list)
    {
        int count = list.Count;
        bool anyValue = false;
        bool anyExtra = false;
        for (int i = 0; i < count; i++)
        {
            if (list[i] is PrimitiveType p)
            {
                anyValue |= p.JsonValue is not null;
                anyExtra |= HasExtra(p);
            }
        }

        if (anyValue)
        {
            Push(Kind.Array, name);
            Emit();
            for (int i = 0; i < count; i++)
            {
                WriteValue((list[i] as PrimitiveType)?.JsonValue);
            }

            Pop();
        }

        if (anyExtra)
        {
            Push(Kind.Array, extraName);
            Emit();
            for (int i = 0; i < count; i++)
            {
                if (list[i] is PrimitiveType p && HasExtra(p))
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
        if (primitive.ElementIdElement is { } id)
        {
            WritePrimitive(Id, IdExtra, id); // "id", and "_id" when the id has extensions of its own
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
        p.ElementIdElement is not null || PrimitiveExtensions(p) is IList { Count: > 0 };

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

    // Where a complex element is written from: the compiled writer of the first runtime type seen there (almost always
    // the only one), so most elements skip the lookup by type.
    private sealed class Site
    {
        public Entry? First;

        public sealed record Entry(Type Type, Action<FastFhirJsonWriter, Base> Writer);
    }
}
