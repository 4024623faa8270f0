using System.Text;
using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>The order an OBX belongs to: its key value, effective time, specimens, and whether it is a lab result.</summary>
public sealed class ObservationGroup
{
    /// <summary>The order's filler (else placer) number, which keys the group's Observations.</summary>
    public Identifier? OrderKey { get; init; }

    /// <summary>Observation keys used so far in the group (a repeated code without a sub-id gets its position).</summary>
    public HashSet<string> Keys { get; } = new(StringComparer.Ordinal);

    /// <summary>OBR-7: the default effective time.</summary>
    public string? Effective { get; init; }

    /// <summary>OBR-22: the default issued instant.</summary>
    public DateTimeOffset? Issued { get; init; }

    /// <summary>True for laboratory results (UK Core Observation-Lab with the laboratory category).</summary>
    public bool Laboratory { get; init; } = true;

    /// <summary>True for imaging results (the imaging category).</summary>
    public bool Imaging { get; init; }

    /// <summary>OBX segments seen so far in the group.</summary>
    public int Count { get; set; }

    /// <summary>Specimen fullUrls in the group.</summary>
    public List<string> Specimens { get; } = [];
}

/// <summary>
/// OBX to Observation, per the IG's OBX[Observation] map: the value by OBX-2 (NM with UCUM units, ST/TX/FT, CE/CWE/
/// CNE, SN as Quantity/Range/Ratio, DT/DTM/TS, TM; ED and RP as an attachment in a DocumentReference the Observation
/// is derived from), reference range, interpretation, status, effective time, performer.
/// </summary>
public static class ObxMapper
{
    /// <summary>Adds the Observation; returns its fullUrl, or null when OBX-3 is missing.</summary>
    public static string? Map(MappingContext context, Hl7Segment obx, ObservationGroup group)
    {
        group.Count++;
        CodeableConcept? code = context.Concept(obx.Field(3), "OBX", 3);
        if (code is null)
        {
            context.Warn(MappingIssueCode.MissingRequiredValue, "OBX", 3);
            return null;
        }

        var observation = new Observation
        {
            Meta = UkCore.Meta(group.Laboratory ? UkCore.ObservationLabProfile : UkCore.ObservationProfile),
            Code = code,
            Subject = context.PatientReference,
            Encounter = context.EncounterReference,
        };
        if (group.Laboratory)
        {
            observation.Category.Add(new CodeableConcept(UkCore.ObservationCategory, "laboratory", "Laboratory", null));
        }
        else if (group.Imaging)
        {
            observation.Category.Add(new CodeableConcept(UkCore.ObservationCategory, "imaging", "Imaging", null));
        }

        Identifier key = EiMapper.ToIdentifier(obx.Field(21).Repetition(1), context.Profile, context.SendingFacility, null)
            ?? (group.OrderKey is { } order ? OrderScoped(order, obx, group) : context.PositionalIdentifier("observation", obx));
        observation.Identifier.Add(key);

        string? status = V2Text.First(obx.Field(11));
        observation.Status = V2Vocabulary.ObservationStatus.Lookup(status)?.Code switch
        {
            "final" => ObservationStatus.Final,
            "preliminary" => ObservationStatus.Preliminary,
            "corrected" => ObservationStatus.Corrected,
            "amended" => ObservationStatus.Amended,
            "cancelled" => ObservationStatus.Cancelled,
            "entered-in-error" => ObservationStatus.EnteredInError,
            _ => status is null ? ObservationStatus.Unknown : status is "I" or "O" or "R" or "S" ? ObservationStatus.Registered : ObservationStatus.Unknown,
        };

        Value(context, obx, observation, key);

        if (V2Text.Of(obx.Field(7)) is { } range)
        {
            observation.ReferenceRange.Add(new Observation.ReferenceRangeComponent { Text = range });
        }

        Hl7Value flags = obx.Field(8);
        for (int r = 1; r <= flags.RepetitionCount; r++)
        {
            string? flag = V2Text.First(flags.Repetition(r));
            if (V2Vocabulary.Interpretation.Lookup(flag) is { } interpretation)
            {
                observation.Interpretation.Add(new CodeableConcept(interpretation.System, interpretation.Code, interpretation.Display, null));
            }
            else if (flag is not null)
            {
                observation.Interpretation.Add(new CodeableConcept { Text = flag });
            }
        }

        string? effective = context.DateTime(obx, 14) ?? group.Effective;
        if (effective is not null)
        {
            observation.Effective = new FhirDateTime(effective);
        }

        if (group.Issued is { } issued)
        {
            observation.Issued = issued;
        }

        Hl7Value observers = obx.Field(16);
        for (int r = 1; r <= observers.RepetitionCount; r++)
        {
            if (XcnMapper.ToReference(observers.Repetition(r), context.Profile, context.SendingFacility) is { } who)
            {
                observation.Performer.Add(who);
            }
        }

        if (group.Specimens.Count > 0)
        {
            observation.Specimen = new ResourceReference(group.Specimens[0]);
        }

        return context.Bundle.AddUpsert(observation, key);
    }

    // The order's own identity (its system and number) plus the test (OBX-3) and its sub-id (OBX-4): a corrected report
    // upserts the same Observations whatever its OBX order; two orders never share one.
    private static Identifier OrderScoped(Identifier order, Hl7Segment obx, ObservationGroup group)
    {
        string code = V2Text.First(obx.Field(3)) ?? "obx";
        string? subId = V2Text.Of(obx.Field(4));
        string value = subId is null ? $"{order.Value}-{code}" : $"{order.Value}-{code}-{subId}";
        if (!group.Keys.Add(value))
        {
            value += "-" + group.Count; // the same test twice without a sub-id: told apart by position
            group.Keys.Add(value);
        }

        return new Identifier(Derived(order.System, "observation"), value);
    }

    /// <summary>
    /// A system for records keyed within another system's identifiers: an http(s) system gets <c>/kind</c>; one of
    /// ours <c>:kind</c>; any other URN (e.g. an OID) a system of ours named by its hash (appending would not be a URI).
    /// </summary>
    public static string Derived(string? system, string kind)
    {
        if (system is null)
        {
            return "urn:streamengine:id:local:" + kind;
        }

        if (system.StartsWith("http", StringComparison.Ordinal))
        {
            return system.TrimEnd('/') + "/" + kind;
        }

        if (system.StartsWith("urn:streamengine:", StringComparison.Ordinal))
        {
            return system + ":" + kind;
        }

        ulong hash = System.IO.Hashing.XxHash64.HashToUInt64(System.Text.Encoding.UTF8.GetBytes(system));
        return $"urn:streamengine:id:{hash:x16}:{kind}";
    }

    /// <summary>Adds an NTE's comment to an Observation.</summary>
    public static void AddNote(Observation observation, Hl7Segment nte)
    {
        if (NoteText(nte) is { } text)
        {
            observation.Note.Add(new Annotation { Text = text });
        }
    }

    /// <summary>NTE-3 (repeating) as markdown text, or null.</summary>
    public static string? NoteText(Hl7Segment nte)
    {
        Hl7Value comments = nte.Field(3);
        var text = new StringBuilder();
        for (int r = 1; r <= comments.RepetitionCount; r++)
        {
            if (V2Text.Of(comments.Repetition(r)) is { } line)
            {
                text.Append(text.Length > 0 ? "\n" : string.Empty).Append(line);
            }
        }

        return text.Length == 0 ? null : text.ToString();
    }

    private static void Value(MappingContext context, Hl7Segment obx, Observation observation, Identifier key)
    {
        string type = V2Text.First(obx.Field(2)) ?? "ST";
        Hl7Value values = obx.Field(5);
        Hl7Value first = values.Repetition(1);
        if (V2Text.Of(first) is null)
        {
            return;
        }

        switch (type)
        {
            case "NM":
                if (QuantityMapper.Number(V2Text.Of(first)) is { } number)
                {
                    observation.Value = QuantityMapper.ToQuantity(number, obx.Field(6), context.Profile);
                }
                else
                {
                    context.Warn(MappingIssueCode.InvalidNumber, "OBX", 5);
                    observation.Value = new FhirString(V2Text.Of(first));
                }

                break;
            case "SN":
                observation.Value = QuantityMapper.FromStructuredNumeric(first, obx.Field(6), context.Profile) ?? new FhirString(V2Text.Of(first));
                break;
            case "CE" or "CWE" or "CNE" or "CF":
                observation.Value = context.Concept(first, "OBX", 5);
                break;
            case "DT" or "DTM" or "TS":
                observation.Value = V2DateTime.ToFhirDateTime(V2Text.First(first)) is { } dt ? new FhirDateTime(dt) : new FhirString(V2Text.Of(first));
                break;
            case "TM":
                observation.Value = new FhirString(V2Text.Of(first));
                break;
            case "ED" or "RP":
                observation.DerivedFrom.Add(new ResourceReference(Attachment(context, obx, type, first, key)));
                break;
            default:
                // ST, TX, FT and anything textual: every repetition, one line each.
                var text = new StringBuilder();
                for (int r = 1; r <= values.RepetitionCount; r++)
                {
                    if (V2Text.Of(values.Repetition(r)) is { } line)
                    {
                        text.Append(text.Length > 0 ? "\n" : string.Empty).Append(line);
                    }
                }

                observation.Value = new FhirString(text.ToString());
                break;
        }
    }

    private static string Attachment(MappingContext context, Hl7Segment obx, string type, Hl7Value value, Identifier key)
    {
        var attachment = new Attachment();
        if (type == "RP")
        {
            attachment.Url = V2Text.Of(value.Component(1));
            attachment.ContentType = MimeType(V2Text.Of(value.Component(3)), V2Text.Of(value.Component(4)));
        }
        else
        {
            attachment.ContentType = MimeType(V2Text.Of(value.Component(2)), V2Text.Of(value.Component(3)));
            string? data = V2Text.Of(value.Component(5));
            if (data is not null)
            {
                attachment.Data = string.Equals(V2Text.Of(value.Component(4)), "Base64", StringComparison.OrdinalIgnoreCase)
                    ? Base64OrNull(data) ?? Encoding.UTF8.GetBytes(data)
                    : Encoding.UTF8.GetBytes(data);
            }
        }

        var documentKey = new Identifier(Derived(key.System, "attachment"), key.Value);
        var document = new DocumentReference
        {
            Meta = UkCore.Meta(UkCore.DocumentReferenceProfile),
            Status = DocumentReferenceStatus.Current,
            Identifier = [documentKey],
            Subject = context.PatientReference,
            Content = [new DocumentReference.ContentComponent { Attachment = attachment }],
        };
        return context.Bundle.AddUpsert(document, documentKey);
    }

    /// <summary>A MIME type from ED type of data / subtype (e.g. <c>TEXT^RTF</c>, <c>Application^PDF</c>).</summary>
    public static string MimeType(string? type, string? subtype)
    {
        if (type is null)
        {
            return "application/octet-stream";
        }

        if (type.Contains('/', StringComparison.Ordinal))
        {
            return type.ToLowerInvariant();
        }

        string major = type.ToUpperInvariant() switch
        {
            "AP" or "APPLICATION" => "application",
            "TEXT" or "TX" => "text",
            "IM" or "IMAGE" => "image",
            "AU" or "AUDIO" => "audio",
            "VIDEO" => "video",
            "MULTIPART" => "multipart",
            _ => "application",
        };
        string minor = subtype?.ToLowerInvariant() ?? (major == "text" ? "plain" : "octet-stream");
        return major + "/" + minor switch { "octet" or "octet-stream" => "octet-stream", _ => minor };
    }

    private static byte[]? Base64OrNull(string data)
    {
        byte[] buffer = new byte[data.Length];
        return Convert.TryFromBase64String(data, buffer, out int written) ? buffer[..written] : null;
    }
}
