using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>
/// MSH (and EVN) to Provenance: the facts the IG keeps in MessageHeader, for a transaction bundle. It targets every
/// other entry, names the event (activity = v2-0003 code from MSH-9.2), the sending organisation (MSH-4, an ODS
/// code in England), the source message (MSH-3, MSH-10, received time) and the mapping version. Its id is derived
/// from the message id, so a resend upserts the same Provenance.
/// </summary>
public static class ProvenanceMapper
{
    /// <summary>The mapping version stamped on every Provenance; bump it when any mapping's output changes.</summary>
    public const string MappingVersion = "1.0.0";

    /// <summary>When StreamEngine journaled the source message (on Provenance.entity).</summary>
    public const string ReceivedTimeExtension = "https://streamengine.dev/fhir/StructureDefinition/received-time";

    /// <summary>Adds the Provenance as the bundle's last entry.</summary>
    public static void Map(MappingContext context)
    {
        Hl7Segment msh = context.Message.Msh;
        var provenance = new Provenance { Meta = UkCore.Meta(UkCore.ProvenanceProfile) };
        IReadOnlyList<Bundle.EntryComponent> entries = context.Bundle.Entries;
        var targets = new List<ResourceReference>(entries.Count);
        foreach (Bundle.EntryComponent entry in entries)
        {
            targets.Add(new ResourceReference(entry.FullUrl));
        }

        provenance.Target = targets;

        // recorded comes from the message (MSH-7), so the same message gives the same bytes whoever maps it; when the
        // engine journaled it is kept on the source entity (the pipeline knows it, `convert` does not).
        provenance.Recorded = context.Timestamp ?? context.ReceivedAt ?? DateTimeOffset.UnixEpoch;
        if (context.Message.FindSegment("EVN") is { } evn && context.DateTime(evn, 6) is { } occurred)
        {
            provenance.Occurred = new FhirDateTime(occurred);
        }

        string trigger = context.Message.TriggerEvent;
        if (trigger.Length > 0)
        {
            provenance.Activity = new CodeableConcept(UkCore.V2_0003, trigger);
        }

        var sender = new ResourceReference { Type = "Organization", Display = context.SendingFacility };
        if (XonMapper.FacilityIdentifier(msh.Field(4), context.Profile) is { } org)
        {
            sender.Identifier = org;
        }

        provenance.Agent.Add(new Provenance.AgentComponent
        {
            Type = new CodeableConcept(UkCore.ProvenanceAgentType, "author", "Author", null),
            Who = sender,
        });
        provenance.Agent.Add(new Provenance.AgentComponent
        {
            Type = new CodeableConcept(UkCore.ProvenanceAgentType, "assembler", "Assembler", null),
            Who = new ResourceReference { Type = "Device", Display = "StreamEngine HL7v2-to-FHIR mapping " + MappingVersion },
        });

        string application = V2Text.Of(msh.Field(3).Component(1)) ?? V2Text.Of(msh.Field(3).Component(2)) ?? "unknown";
        var source = new Provenance.EntityComponent
        {
            Role = Provenance.ProvenanceEntityRole.Source,
            What = new ResourceReference
            {
                Identifier = new Identifier(context.MessageIdSystem, context.ControlId),
                Display = $"HL7 v2 {context.Message.MessageCode}^{trigger} from {application}",
            },
        };
        if (context.ReceivedAt is { } received)
        {
            source.Extension.Add(new Extension(ReceivedTimeExtension, new FhirDateTime(received)));
        }

        provenance.Entity.Add(source);
        provenance.Policy = ["urn:streamengine:mapping:" + MappingVersion];
        context.Bundle.AddPut(provenance, context.MessageIdSystem + "|" + context.ControlId);
    }
}
