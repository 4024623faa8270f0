using Hl7.Fhir.Model;

namespace StreamEngine.Fhir.TriggerEvents;

/// <summary>Maps the messages of one or more trigger events to a transaction Bundle.</summary>
public interface ITriggerEventMapper
{
    /// <summary>The MSH-9.1^MSH-9.2 pairs this mapper handles, e.g. <c>ADT^A01</c>.</summary>
    IReadOnlyCollection<string> Events { get; }

    /// <summary>Maps the message; returns null with error issues in the context when it cannot.</summary>
    Bundle? Map(MappingContext context, TransactionBundleBuilder bundle);
}
