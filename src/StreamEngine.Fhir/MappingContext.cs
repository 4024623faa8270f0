using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir;

/// <summary>State of one message's mapping: the message and the issues found so far.</summary>
public sealed class MappingContext
{
    private readonly List<MappingIssue> _issues = [];

    /// <summary>Creates a context.</summary>
    public MappingContext(Hl7Message message)
    {
        Message = message;
        SendingFacility = message.Msh.Field(4).Component(1).ToString();
    }

    /// <summary>The message being mapped.</summary>
    public Hl7Message Message { get; }

    /// <summary>MSH-4.1, the default assigning authority for local identifiers.</summary>
    public string SendingFacility { get; }

    /// <summary>Issues found so far.</summary>
    public IReadOnlyList<MappingIssue> Issues => _issues;

    /// <summary>True when an error-level issue was found.</summary>
    public bool HasErrors => _issues.Exists(i => i.IsError);

    /// <summary>Records a warning: the value is left out or kept plain, the message still maps.</summary>
    public void Warn(MappingIssueCode code, string segment, int field) => _issues.Add(new MappingIssue(code, segment, field, false));

    /// <summary>Records an error: the message cannot be mapped.</summary>
    public void Fail(MappingIssueCode code, string segment, int field) => _issues.Add(new MappingIssue(code, segment, field, true));
}
