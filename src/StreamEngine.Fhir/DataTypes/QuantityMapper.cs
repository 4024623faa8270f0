using System.Globalization;
using Hl7.Fhir.Model;
using StreamEngine.Fhir.Profiles;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.DataTypes;

/// <summary>NM + units (OBX-5/OBX-6, CQ) to Quantity; SN to Quantity, Range or Ratio.</summary>
public static class QuantityMapper
{
    /// <summary>A decimal from v2 NM text (leading +, spaces allowed); null when not a number.</summary>
    public static decimal? Number(string? text) =>
        text is not null && decimal.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out decimal d) ? d : null;

    /// <summary>A Quantity with the units CWE (UCUM when the coding system says so or no system is given).</summary>
    public static Quantity ToQuantity(decimal value, Hl7Value units, TrustProfile profile)
    {
        var quantity = new Quantity { Value = value };
        string? code = V2Text.Of(units.Component(1));
        if (code is null)
        {
            return quantity;
        }

        string? text = V2Text.Of(units.Component(2));
        string? systemName = V2Text.Of(units.Component(3));
        quantity.Unit = text ?? code;
        if (systemName is not null)
        {
            // A coded unit (UCUM, or a named local system); a unit with no system is display text only, since
            // calling an arbitrary string UCUM would make the Quantity wrong.
            quantity.Code = code;
            quantity.System = CodingSystems.UriFor(systemName, profile);
        }

        return quantity;
    }

    /// <summary>
    /// SN (structured numeric): comparator^num1^separator^num2. A bare or compared number is a Quantity; <c>-</c> a
    /// Range; <c>:</c> or <c>/</c> a Ratio. Null when it does not parse.
    /// </summary>
    public static DataType? FromStructuredNumeric(Hl7Value sn, Hl7Value units, TrustProfile profile)
    {
        string? comparator = V2Text.Of(sn.Component(1));
        decimal? first = Number(V2Text.Of(sn.Component(2)));
        string? separator = V2Text.Of(sn.Component(3));
        decimal? second = Number(V2Text.Of(sn.Component(4)));
        if (first is null)
        {
            return null;
        }

        if (separator is null)
        {
            Quantity q = ToQuantity(first.Value, units, profile);
            q.Comparator = comparator switch
            {
                "<" => Quantity.QuantityComparator.LessThan,
                "<=" => Quantity.QuantityComparator.LessOrEqual,
                ">" => Quantity.QuantityComparator.GreaterThan,
                ">=" => Quantity.QuantityComparator.GreaterOrEqual,
                _ => null,
            };
            return q;
        }

        if (separator == "+")
        {
            // "^2^+": two or more
            Quantity q = ToQuantity(first.Value, units, profile);
            q.Comparator = Quantity.QuantityComparator.GreaterOrEqual;
            return q;
        }

        if (second is null)
        {
            return null;
        }

        return separator switch
        {
            "-" => new Hl7.Fhir.Model.Range { Low = ToQuantity(first.Value, units, profile), High = ToQuantity(second.Value, units, profile) },
            ":" or "/" => new Ratio(new Quantity { Value = first.Value }, new Quantity { Value = second.Value }),
            _ => null,
        };
    }
}
