using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using Hl7.Fhir.Introspection;
using Hl7.Fhir.Model;
using Linq = System.Linq.Expressions;

namespace StreamEngine.Fhir;

/// <summary>What an element holds, as far as its declared type tells.</summary>
public enum PocoShape : byte
{
    /// <summary>Not known from the declared type (a choice, a field-less element): look at the value.</summary>
    Any,

    /// <summary>One FHIR primitive (<see cref="PrimitiveType"/>).</summary>
    Primitive,

    /// <summary>One complex element or resource, never a primitive.</summary>
    Complex,

    /// <summary>A list of primitives.</summary>
    PrimitiveList,

    /// <summary>A list of complex elements or resources, never primitives.</summary>
    ComplexList,

    /// <summary>A plain string (<c>Element.id</c>, <c>Extension.url</c>).</summary>
    Text,
}

/// <summary>One element of a FHIR POCO type: its name, whether it is a choice (<c>value[x]</c>), and fast access.</summary>
/// <param name="Name">The FHIR element name.</param>
/// <param name="Choice">True for a data-type choice (its JSON name takes the type as a suffix).</param>
/// <param name="Get">Reads the element (null when absent); never creates an empty list.</param>
/// <param name="Clear">Removes the element, or null when it cannot be written.</param>
/// <param name="Shape">What the element holds, from its declared type (<see cref="PocoShape.Any"/> when that does not tell).</param>
public sealed record PocoMember(string Name, bool Choice, Func<Base, object?> Get, Action<Base>? Clear, PocoShape Shape = PocoShape.Any)
{
    private readonly ConcurrentDictionary<string, (JsonEncodedText Name, JsonEncodedText Extra)> _choiceNames = new(StringComparer.Ordinal);

    /// <summary>The generated class's backing field the element is read from, or null when it is read by name.</summary>
    public FieldInfo? Field { get; init; }

    /// <summary>The JSON property name, encoded once.</summary>
    public JsonEncodedText JsonName { get; } = JsonEncodedText.Encode(Name);

    /// <summary>The JSON name of a primitive's id and extensions (<c>_name</c>), encoded once.</summary>
    public JsonEncodedText JsonExtraName { get; } = JsonEncodedText.Encode("_" + Name);

    /// <summary>A choice element's JSON names for a value of FHIR type <paramref name="typeName"/> (<c>valueString</c>, <c>_valueString</c>).</summary>
    public (JsonEncodedText Name, JsonEncodedText Extra) ChoiceNames(string typeName) => _choiceNames.GetOrAdd(typeName, static (type, name) =>
    {
        string full = name + char.ToUpperInvariant(type[0]) + type[1..];
        return (JsonEncodedText.Encode(full), JsonEncodedText.Encode("_" + full));
    }, Name);
}

/// <summary>
/// The elements of a Firely POCO type in FHIR order, looked up once per type from Firely's class mapping. Firely's
/// generated classes keep each element in a field named after its property (<c>_Identifier</c>,
/// <c>_ActiveElement</c>): it is read and cleared by compiled delegates, with no iterator, no reflection per call, and no
/// lazily created empty list; an element without such a field falls back to the POCO's own TryGetValue and setter.
/// Shared by the JSON writer and the policy minimiser.
/// </summary>
public static class PocoMembers
{
    private static readonly ConcurrentDictionary<Type, PocoMember[]> ByType = new();

    /// <summary>The members of a POCO type (a primitive's own value excluded).</summary>
    public static PocoMember[] Of(Type type) => ByType.GetOrAdd(type, static t =>
    {
        ClassMapping mapping = ModelInfo.ModelInspector.FindOrImportClassMapping(t)
            ?? throw new NotSupportedException("No FHIR class mapping for " + t.Name);
        return mapping.PropertyMappings
            .Where(p => !(mapping.IsFhirPrimitive && p.Name == "value"))
            .OrderBy(p => p.Order)
            .Select(Member)
            .ToArray();
    });

    private static PocoMember Member(PropertyMapping property)
    {
        string name = property.Name;
        bool choice = property.Choice == ChoiceType.DatatypeChoice;
        PropertyInfo? native = property.NativeProperty;
        FieldInfo? field = null;
        for (Type? d = native?.DeclaringType; d is not null && field is null; d = d.BaseType)
        {
            field = d.GetField("_" + native!.Name, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.DeclaredOnly);
        }

        if (field is not null && !field.FieldType.IsValueType)
        {
            Linq.ParameterExpression poco = Linq.Expression.Parameter(typeof(Base), "poco");
            Linq.MemberExpression typed = Linq.Expression.Field(Linq.Expression.Convert(poco, field.DeclaringType!), field);
            var get = Linq.Expression.Lambda<Func<Base, object?>>(Linq.Expression.Convert(typed, typeof(object)), poco).Compile();
            var clear = Linq.Expression.Lambda<Action<Base>>(Linq.Expression.Assign(typed, Linq.Expression.Constant(null, field.FieldType)), poco).Compile();
            return new PocoMember(name, choice, get, clear, choice ? PocoShape.Any : ShapeOf(field.FieldType)) { Field = field };
        }

        Action<Base>? set = native is { CanWrite: true } ? node => native.SetValue(node, null) : null;
        return new PocoMember(name, choice, node => node.TryGetValue(name, out object? value) ? value : null, set);
    }

    // A declared type tells the shape when every value it admits is a primitive, or none is.
    private static PocoShape ShapeOf(Type declared)
    {
        if (declared == typeof(string))
        {
            return PocoShape.Text;
        }

        bool list = declared.IsGenericType && declared.GetGenericTypeDefinition() == typeof(List<>);
        Type item = list ? declared.GetGenericArguments()[0] : declared;
        if (typeof(PrimitiveType).IsAssignableFrom(item))
        {
            return list ? PocoShape.PrimitiveList : PocoShape.Primitive;
        }

        if (typeof(Base).IsAssignableFrom(item) && !item.IsAssignableFrom(typeof(PrimitiveType)))
        {
            return list ? PocoShape.ComplexList : PocoShape.Complex;
        }

        return PocoShape.Any;
    }
}
