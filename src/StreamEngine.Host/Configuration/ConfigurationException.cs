namespace StreamEngine.Host.Configuration;

/// <summary>Configuration that cannot run. Each error names the key (or file) at fault; none quotes a secret.</summary>
public sealed class ConfigurationException(IReadOnlyList<string> errors)
    : Exception("Invalid configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  - " + e)))
{
    /// <summary>The errors, one per bad key.</summary>
    public IReadOnlyList<string> Errors { get; } = errors;
}
