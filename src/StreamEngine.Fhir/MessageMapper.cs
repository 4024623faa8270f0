using System.Collections.Frozen;
using Hl7.Fhir.Model;
using StreamEngine.Fhir.Profiles;
using StreamEngine.Fhir.Segments;
using StreamEngine.Fhir.TriggerEvents;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir;

/// <summary>The result of mapping one message.</summary>
/// <param name="Bundle">The transaction bundle, or null when the message could not be mapped.</param>
/// <param name="Issues">Coded issues, errors and warnings.</param>
public sealed record MappingResult(Bundle? Bundle, IReadOnlyList<MappingIssue> Issues)
{
    /// <summary>True when a bundle was produced.</summary>
    public bool Succeeded => Bundle is not null;
}

/// <summary>
/// Routes a message to its trigger-event mapper on MSH-9.1 and MSH-9.2 (never MSH-9.3, which English feeds leave
/// empty or fill with HL7 UK structure names), applies the Trust profile's Z-segment rules and adds the Provenance.
/// Stateless and thread-safe: one instance serves every sink.
/// </summary>
public sealed class MessageMapper
{
    private readonly FrozenDictionary<string, ITriggerEventMapper> _mappers;

    /// <summary>Creates the mapper with every built-in trigger-event mapper and the default profile.</summary>
    public MessageMapper()
        : this(TrustProfile.Default)
    {
    }

    /// <summary>Creates the mapper with every built-in trigger-event mapper and a Trust profile.</summary>
    public MessageMapper(TrustProfile profile)
        : this(profile, BuiltIn())
    {
    }

    /// <summary>Creates the mapper with the given trigger-event mappers.</summary>
    public MessageMapper(TrustProfile profile, IEnumerable<ITriggerEventMapper> mappers)
    {
        Profile = profile;
        var byEvent = new Dictionary<string, ITriggerEventMapper>(StringComparer.Ordinal);
        foreach (ITriggerEventMapper mapper in mappers)
        {
            foreach (string e in mapper.Events)
            {
                byEvent.Add(e, mapper);
            }
        }

        _mappers = byEvent.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The Trust profile in use.</summary>
    public TrustProfile Profile { get; }

    /// <summary>The events that have a mapper.</summary>
    public IEnumerable<string> SupportedEvents => _mappers.Keys;

    /// <summary>The built-in trigger-event mappers.</summary>
    public static IReadOnlyList<ITriggerEventMapper> BuiltIn() =>
    [
        new AdtMapper(), new AdtMergeMapper(), new ResultsMapper(), new OrderMapper(), new ScheduleMapper(),
        new DocumentMapper(), new ImmunizationMapper(), new AccountMapper(), new MedicationOrderMapper(),
        new ReferralMapper(), new ProblemMapper(),
    ];

    /// <summary>True when the message's MSH-9.1^MSH-9.2 has a mapper.</summary>
    public bool Supports(Hl7Message message) => _mappers.ContainsKey(EventKey(message));

    /// <summary>Maps one message. Never throws for message content.</summary>
    /// <param name="message">The parsed message.</param>
    /// <param name="receivedAt">When the engine journaled it (Provenance.recorded); MSH-7 when not given.</param>
    public MappingResult Map(Hl7Message message, DateTimeOffset? receivedAt = null)
    {
        var context = new MappingContext(message, Profile, receivedAt);
        if (context.ControlId.Length == 0)
        {
            context.Fail(MappingIssueCode.MissingControlId, "MSH", 10); // no message identity: nothing could be idempotent
            return new MappingResult(null, context.Issues);
        }

        if (!_mappers.TryGetValue(EventKey(message), out ITriggerEventMapper? mapper))
        {
            context.Fail(MappingIssueCode.UnsupportedMessageType, "MSH", 9);
            return new MappingResult(null, context.Issues);
        }

        mapper.Map(context);
        if (context.HasErrors)
        {
            return new MappingResult(null, context.Issues);
        }

        ZSegmentMapper.Apply(context);
        ProvenanceMapper.Map(context);
        if (context.Bundle.DuplicatesDropped > 0)
        {
            context.Warn(MappingIssueCode.DuplicateIdentity, "MSH", 10);
        }

        return new MappingResult(context.Bundle.Build(), context.Issues);
    }

    private static string EventKey(Hl7Message message) => message.MessageCode + "^" + message.TriggerEvent;
}
