namespace StreamEngine.Fhir.TriggerEvents;

/// <summary>Maps the messages of one or more trigger events into the context's transaction bundle.</summary>
public interface ITriggerEventMapper
{
    /// <summary>The MSH-9.1^MSH-9.2 pairs this mapper handles, e.g. <c>ADT^A01</c>.</summary>
    IReadOnlyCollection<string> Events { get; }

    /// <summary>Adds the message's resources to <see cref="MappingContext.Bundle"/>; records errors in the context when it cannot.</summary>
    void Map(MappingContext context);
}
