using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.DataTypes;

/// <summary>Reading values: empty and the HL7 explicit null (<c>""</c>) are both "no value" to a FHIR resource.</summary>
public static class V2Text
{
    /// <summary>The decoded text, or null when empty or <c>""</c>.</summary>
    public static string? Of(Hl7Value value)
    {
        if (value.IsEmpty || value.IsNull)
        {
            return null;
        }

        string text = value.ToString().Trim();
        return text.Length == 0 ? null : text;
    }

    /// <summary>The first component's text, or null.</summary>
    public static string? First(Hl7Value value) => Of(value.Component(1));
}
