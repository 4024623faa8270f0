using System.Collections.Frozen;
using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Ids;
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
/// empty or fill with HL7 UK structure names). Stateless and thread-safe.
/// </summary>
public sealed class MessageMapper
{
    private readonly FrozenDictionary<string, ITriggerEventMapper> _mappers;

    /// <summary>Creates the mapper with every built-in trigger-event mapper.</summary>
    public MessageMapper()
        : this([new AdtAdmitVisitMapper()])
    {
    }

    /// <summary>Creates the mapper with the given trigger-event mappers.</summary>
    public MessageMapper(IEnumerable<ITriggerEventMapper> mappers)
    {
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

    /// <summary>The events that have a mapper.</summary>
    public IEnumerable<string> SupportedEvents => _mappers.Keys;

    /// <summary>True when the message's MSH-9.1^MSH-9.2 has a mapper.</summary>
    public bool Supports(Hl7Message message) => _mappers.ContainsKey(EventKey(message));

    /// <summary>Maps one message. Never throws for message content.</summary>
    public MappingResult Map(Hl7Message message)
    {
        var context = new MappingContext(message);
        if (!_mappers.TryGetValue(EventKey(message), out ITriggerEventMapper? mapper))
        {
            context.Fail(MappingIssueCode.UnsupportedMessageType, "MSH", 9);
            return new MappingResult(null, context.Issues);
        }

        string facility = context.SendingFacility;
        var builder = new TransactionBundleBuilder(
            IdentifierSystems.Local(facility, "message"),
            message.ControlId,
            V2DateTime.ToInstant(message.Msh.Field(7).Component(1).ToString()));
        Bundle? bundle = mapper.Map(context, builder);
        return new MappingResult(context.HasErrors ? null : bundle, context.Issues);
    }

    private static string EventKey(Hl7Message message) => message.MessageCode + "^" + message.TriggerEvent;
}
