namespace StreamEngine.Pipeline;

/// <summary>Secrets the engine makes itself (the patient-key HMAC key, the admin token): created readable by the owner only.</summary>
public static class SecretFile
{
    /// <summary>
    /// Creates <paramref name="path"/> holding <paramref name="content"/>, mode 0600 from the moment it exists (never
    /// readable by others, even briefly), written through to disk; an existing file is left alone.
    /// </summary>
    public static void Create(string path, ReadOnlySpan<byte> content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            Options = FileOptions.WriteThrough,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using var stream = new FileStream(path, options);
            stream.Write(content);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process made it first: theirs stands.
        }
    }
}
