using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Ids;
using StreamEngine.Fhir.Profiles;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir;

/// <summary>
/// State of one message's mapping: the message, the Trust profile, the bundle being built, the Patient and Encounter
/// the segments refer to, and the issues found so far. One per message; not thread-safe.
/// </summary>
public sealed class MappingContext
{
    private readonly List<MappingIssue> _issues = [];

    /// <summary>Creates a context.</summary>
    public MappingContext(Hl7Message message, TrustProfile profile, DateTimeOffset? receivedAt = null)
    {
        Message = message;
        Profile = profile;
        ReceivedAt = receivedAt;
        SendingFacility = V2Text.Of(message.Msh.Field(4).Component(1)) ?? V2Text.Of(message.Msh.Field(4).Component(2)) ?? "unknown";
        SendingApplication = V2Text.Of(message.Msh.Field(3).Component(1)) ?? V2Text.Of(message.Msh.Field(3).Component(2)) ?? "unknown";
        ControlId = message.ControlId;
        Timestamp = V2DateTime.ToInstant(message.Msh.Field(7).Component(1).ToString());
        // MSH-10 counters are per application: the message id is scoped by MSH-4 and MSH-3 together.
        MessageIdSystem = IdentifierSystems.Local(SendingFacility, IdentifierSystems.Clean(SendingApplication) + ":message");
        Bundle = new TransactionBundleBuilder(MessageIdSystem, ControlId, Timestamp);
    }

    /// <summary>The message being mapped.</summary>
    public Hl7Message Message { get; }

    /// <summary>The Trust profile.</summary>
    public TrustProfile Profile { get; }

    /// <summary>When the engine received (journaled) the message, if known.</summary>
    public DateTimeOffset? ReceivedAt { get; }

    /// <summary>MSH-7 as an instant (no offset means Europe/London), if readable.</summary>
    public DateTimeOffset? Timestamp { get; }

    /// <summary>MSH-4.1, the default assigning authority for local identifiers.</summary>
    public string SendingFacility { get; }

    /// <summary>MSH-3.1, the sending application.</summary>
    public string SendingApplication { get; }

    /// <summary>The system of Bundle.identifier and of the Provenance's source message: sender facility and application.</summary>
    public string MessageIdSystem { get; }

    /// <summary>Every Patient mapped so far with its PID's position (Z-segment rules find their patient group by it).</summary>
    public List<(int Index, Patient Patient)> Patients { get; } = [];

    /// <summary>Every Encounter mapped so far with its PV1's position.</summary>
    public List<(int Index, Encounter Encounter)> Encounters { get; } = [];

    /// <summary>MSH-10.</summary>
    public string ControlId { get; }

    /// <summary>The bundle being built.</summary>
    public TransactionBundleBuilder Bundle { get; }

    /// <summary>The current Patient's fullUrl, once PID was mapped.</summary>
    public string? PatientUrl { get; set; }

    /// <summary>The current Patient (the one Z-segment rules write to).</summary>
    public Patient? Patient { get; set; }

    /// <summary>The current Encounter's fullUrl, once PV1 was mapped.</summary>
    public string? EncounterUrl { get; set; }

    /// <summary>The current Encounter.</summary>
    public Encounter? Encounter { get; set; }

    /// <summary>Issues found so far.</summary>
    public IReadOnlyList<MappingIssue> Issues => _issues;

    /// <summary>True when an error-level issue was found.</summary>
    public bool HasErrors => _issues.Exists(i => i.IsError);

    /// <summary>A reference to the current Patient (the bundle's fullUrl).</summary>
    public ResourceReference? PatientReference => PatientUrl is null ? null : new ResourceReference(PatientUrl);

    /// <summary>A reference to the current Encounter, if any.</summary>
    public ResourceReference? EncounterReference => EncounterUrl is null ? null : new ResourceReference(EncounterUrl);

    /// <summary>Records a warning: the value is left out or kept plain, the message still maps.</summary>
    public void Warn(MappingIssueCode code, string segment, int field) => _issues.Add(new MappingIssue(code, segment, field, false));

    /// <summary>Records an error: the message cannot be mapped.</summary>
    public void Fail(MappingIssueCode code, string segment, int field) => _issues.Add(new MappingIssue(code, segment, field, true));

    /// <summary>
    /// A deterministic identifier for a record that v2 gives none (AL1, DG1, NK1, an OBX without an order number):
    /// the message id and the segment's position, in a sender-scoped system for the kind of record.
    /// </summary>
    public Identifier PositionalIdentifier(string kind, Hl7Segment segment) =>
        new(IdentifierSystems.Local(SendingFacility, kind), $"{SendingApplication}.{ControlId}-{segment.Id}-{segment.Index + 1}");

    /// <summary>
    /// The kind of service an OBR orders or reports (its OBR-24), as the Trust profile reads it; no OBR reads as an empty
    /// section.
    /// </summary>
    public Terminology.SectionKind SectionOf(Hl7Segment? obr) =>
        Profile.DiagnosticSections.Of(obr is { } o ? V2Text.First(o.Field(24)) : null, SendingApplication);

    /// <summary>A coded field as a CodeableConcept, with the Trust's ConceptMap translations for that field added.</summary>
    public CodeableConcept? Concept(Hl7Value cwe, string segment, int field)
    {
        CodeableConcept? concept = CweMapper.ToCodeableConcept(cwe, Profile);
        return concept is null ? null : Translate(concept, segment, field);
    }

    /// <summary>Adds the ConceptMap translations configured for <c>SEGMENT-FIELD</c> to a concept.</summary>
    public CodeableConcept Translate(CodeableConcept concept, string segment, int field)
    {
        if (Profile.ConceptMaps.Count == 0 || !Profile.ConceptMaps.TryGetValue(segment + "-" + field, out ConceptMapTranslator? map))
        {
            return concept;
        }

        int count = concept.Coding.Count;
        for (int i = 0; i < count; i++)
        {
            Coding source = concept.Coding[i];
            if (source.Code is null)
            {
                continue;
            }

            foreach (Coding target in map.Translate(source.System, source.Code))
            {
                if (!concept.Coding.Exists(c => c.System == target.System && c.Code == target.Code))
                {
                    concept.Coding.Add((Coding)target.DeepCopy());
                }
            }
        }

        return concept;
    }

    /// <summary>A TS/DTM field as a FHIR dateTime (precision kept); warns and returns null when malformed.</summary>
    public string? DateTime(Hl7Segment segment, int field, int component = 1)
    {
        Hl7Value value = segment.Field(field).Repetition(1).Component(component);
        string? text = V2Text.Of(value);
        if (text is null)
        {
            return null;
        }

        string? fhir = V2DateTime.ToFhirDateTime(text);
        if (fhir is null)
        {
            Warn(MappingIssueCode.InvalidDateTime, segment.Id, field);
        }

        return fhir;
    }

    /// <summary>A TS/DTM field as an instant; warns and returns null when malformed or less precise than a day.</summary>
    public DateTimeOffset? Instant(Hl7Segment segment, int field, int component = 1)
    {
        string? text = V2Text.Of(segment.Field(field).Repetition(1).Component(component));
        if (text is null)
        {
            return null;
        }

        DateTimeOffset? instant = V2DateTime.ToInstant(text);
        if (instant is null)
        {
            Warn(MappingIssueCode.InvalidDateTime, segment.Id, field);
        }

        return instant;
    }
}
