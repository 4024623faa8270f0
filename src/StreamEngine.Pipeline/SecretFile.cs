namespace StreamEngine.Pipeline;

/// <summary>
/// Files the engine makes that others must not read (the patient-key HMAC key, the admin token, the store's databases)
/// and their folders: created for the owner alone.
/// </summary>
public static class SecretFile
{
    /// <summary>
    /// Creates <paramref name="path"/> holding <paramref name="content"/>, mode 0600 from the moment it exists (never
    /// readable by others, even briefly), written through to disk; an existing file is left alone.
    /// </summary>
    public static void Create(string path, ReadOnlySpan<byte> content)
    {
        string full = Path.GetFullPath(path);
        CreateFolder(Path.GetDirectoryName(full)!);
        string temp = $"{full}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        // Written whole and synced under a temporary name, then moved into place: a crash never leaves an empty or
        // partial secret, and a reader never sees one being written.
        using (var stream = new FileStream(temp, options))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }

        try
        {
            File.Move(temp, full, overwrite: false);
        }
        catch (IOException) when (File.Exists(full))
        {
            File.Delete(temp); // another process made it first: theirs stands
        }
    }

    /// <summary>
    /// The folder's full path, made if missing, with any missing parents, for the owner alone on Unix (mode 0700); a
    /// folder that exists keeps its mode.
    /// </summary>
    public static string CreateFolder(string path)
    {
        string folder = Path.GetFullPath(path);
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(folder);
        }
        else
        {
            Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return folder;
    }
}
