using System.Text;
using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>
/// TXA (+ the OBX segments that carry the document) to DocumentReference, per the IG's TXA[DocumentReference] map:
/// unique document number, type, date, author, completion status, and the embedded document as the attachment.
/// </summary>
public static class TxaMapper
{
    /// <summary>Adds the DocumentReference upserted on TXA-12 (else TXA-16, else the message id and position).</summary>
    public static void Map(MappingContext context, Hl7Segment txa)
    {
        var document = new DocumentReference
        {
            Meta = UkCore.Meta(UkCore.DocumentReferenceProfile),
            Subject = context.PatientReference,
        };
        Identifier? unique = EiMapper.ToIdentifier(txa.Field(12), context.Profile, context.SendingFacility, null);
        Identifier? filler = EiMapper.ToIdentifier(txa.Field(16), context.Profile, context.SendingFacility, "FILL");
        Identifier key = unique ?? filler ?? context.PositionalIdentifier("document", txa);
        if (unique is not null)
        {
            document.MasterIdentifier = unique;
        }

        document.Identifier.Add(key);
        if (filler is not null && !ReferenceEquals(filler, key))
        {
            document.Identifier.Add(filler);
        }

        if (context.Concept(txa.Field(2), "TXA", 2) is { } type)
        {
            if (type.Coding.Count > 0 && type.Coding[0].System is null)
            {
                type.Coding[0].System = "http://terminology.hl7.org/CodeSystem/v2-0270";
            }

            document.Type = type;
        }

        string? availability = V2Text.First(txa.Field(19));
        document.Status = availability is "CA" or "OB" or "UN" && V2Text.First(txa.Field(17)) is "CA" ? DocumentReferenceStatus.EnteredInError
            : availability is "OB" ? DocumentReferenceStatus.Superseded
            : DocumentReferenceStatus.Current;
        document.DocStatus = V2Text.First(txa.Field(17)) switch
        {
            "AU" or "LA" or "DO" => CompositionStatus.Final,
            "IP" or "IN" or "PA" or "DI" => CompositionStatus.Preliminary,
            "CA" => CompositionStatus.EnteredInError,
            _ => null,
        };

        // The IG: TXA-6 (origination) -> date. TXA-4 (activity) has no target there; it stands in only when TXA-6 is
        // empty, as some feeds fill only it.
        if ((context.Instant(txa, 6) ?? context.Instant(txa, 4)) is { } originated)
        {
            document.Date = originated;
        }

        Hl7Value authors = txa.Field(9);
        for (int r = 1; r <= authors.RepetitionCount; r++)
        {
            if (XcnMapper.ToReference(authors.Repetition(r), context.Profile, context.SendingFacility) is { } author)
            {
                document.Author.Add(author);
            }
        }

        if (context.EncounterReference is { } encounter)
        {
            document.Context = new DocumentReference.ContextComponent { Encounter = [encounter] };
        }

        document.Content.Add(new DocumentReference.ContentComponent { Attachment = Content(context, txa) });
        context.Bundle.AddUpsert(document, key);
    }

    // TX/FT/ST OBX lines are joined as text/plain; an ED OBX is the document itself (its type, and base64 data).
    private static Attachment Content(MappingContext context, Hl7Segment txa)
    {
        var text = new StringBuilder();
        Attachment? embedded = null;
        foreach (Hl7Segment obx in context.Message.Segments("OBX"))
        {
            string type = V2Text.First(obx.Field(2)) ?? "TX";
            Hl7Value values = obx.Field(5);
            if (type == "ED" && embedded is null)
            {
                Hl7Value ed = values.Repetition(1);
                embedded = new Attachment { ContentType = ObxMapper.MimeType(V2Text.Of(ed.Component(2)), V2Text.Of(ed.Component(3))) };
                string? data = V2Text.Of(ed.Component(5));
                if (data is not null)
                {
                    byte[] buffer = new byte[data.Length];
                    embedded.Data = string.Equals(V2Text.Of(ed.Component(4)), "Base64", StringComparison.OrdinalIgnoreCase) && Convert.TryFromBase64String(data, buffer, out int n)
                        ? buffer[..n]
                        : Encoding.UTF8.GetBytes(data);
                }

                continue;
            }

            for (int r = 1; r <= values.RepetitionCount; r++)
            {
                // Formatted text keeps its line structure; escapes are decoded.
                text.Append(values.Repetition(r).ToString()).Append('\n');
            }
        }

        if (embedded is not null)
        {
            return embedded;
        }

        var attachment = new Attachment { ContentType = "text/plain; charset=utf-8" };
        if (text.Length > 0)
        {
            attachment.Data = Encoding.UTF8.GetBytes(text.ToString().TrimEnd('\n'));
        }
        else
        {
            // A notification without the content (T01, T03...): the attachment names the document only.
            attachment.Title = V2Text.Of(txa.Field(2).Component(2)) ?? V2Text.First(txa.Field(2)) ?? "document";
        }

        if (context.Instant(txa, 4) is { } created)
        {
            attachment.Creation = new FhirDateTime(created).Value;
        }

        return attachment;
    }
}
