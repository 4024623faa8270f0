namespace StreamEngine.Sinks.Fhir;

/// <summary>
/// A secret read from a file or an environment variable, never from configuration itself. A file is re-read when it
/// changes (rotation without a restart); a request in flight keeps the value it started with. The value never appears
/// in <see cref="ToString"/>, logs or exceptions.
/// </summary>
public sealed class SecretSource
{
    private readonly string? _file;
    private readonly string? _environmentVariable;
    private readonly Lock _gate = new();
    private DateTime _readAt;
    private long _length = -1;
    private string? _value;

    private SecretSource(string? file, string? environmentVariable)
    {
        _file = file;
        _environmentVariable = environmentVariable;
    }

    /// <summary>A secret kept in a file (trailing newline trimmed).</summary>
    public static SecretSource FromFile(string path) => new(path, null);

    /// <summary>A secret in an environment variable.</summary>
    public static SecretSource FromEnvironment(string name) => new(null, name);

    /// <summary>Where the secret comes from (never the secret).</summary>
    public string Origin => _file is not null ? "file " + _file : "environment variable " + _environmentVariable;

    /// <summary>The current value; throws <see cref="InvalidOperationException"/> naming the origin when it is missing or empty.</summary>
    public string Value
    {
        get
        {
            if (_environmentVariable is not null)
            {
                string? env = Environment.GetEnvironmentVariable(_environmentVariable);
                return string.IsNullOrEmpty(env) ? throw new InvalidOperationException($"The secret in {Origin} is not set.") : env;
            }

            var info = new FileInfo(_file!);
            lock (_gate)
            {
                if (!info.Exists)
                {
                    throw new InvalidOperationException($"The secret in {Origin} does not exist.");
                }

                if (_value is null || info.LastWriteTimeUtc != _readAt || info.Length != _length)
                {
                    string text = File.ReadAllText(_file!).TrimEnd('\r', '\n');
                    if (text.Length == 0)
                    {
                        throw new InvalidOperationException($"The secret in {Origin} is empty.");
                    }

                    _value = text;
                    _readAt = info.LastWriteTimeUtc;
                    _length = info.Length;
                }

                return _value;
            }
        }
    }

    /// <inheritdoc />
    public override string ToString() => "secret from " + Origin;
}
