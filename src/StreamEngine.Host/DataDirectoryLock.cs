namespace StreamEngine.Host;

/// <summary>
/// One engine per data directory: <c>engine.lock</c> in it, held exclusively (an advisory file lock) for as long as the
/// engine runs and released by the OS when its process ends, kill -9 included. A second engine started on the same
/// directory (by mistake, or a service manager's overlapping restart) would write its sinks' records into the running
/// engine's journal under the same persistence ids before failing on its port; it stops before it opens anything.
/// The commands that read a stopped engine's store take no lock: they only read.
/// </summary>
internal static class DataDirectoryLock
{
    /// <summary>
    /// The data directory's full path, made if missing: for the engine's user alone on Unix (mode 0700: the journal and the
    /// index hold raw messages, patient data). A folder that exists keeps the mode it has.
    /// </summary>
    public static string CreateFolder(string dataDirectory) => StreamEngine.Pipeline.SecretFile.CreateFolder(dataDirectory);

    /// <summary>
    /// What of the data directory other users may read or write (the folder, its SQLite files), as a warning naming the
    /// modes; null when nothing is (or on Windows). The journal and the index hold raw messages: a folder made by an
    /// older version, or by hand, keeps the mode it was given.
    /// </summary>
    public static string? OpenToOthers(string dataDirectory)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        const UnixFileMode readOrWrite = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;
        string folder = Path.GetFullPath(dataDirectory);
        var open = new List<string>();
        UnixFileMode folderMode = File.GetUnixFileMode(folder);
        if ((folderMode & readOrWrite) != 0)
        {
            open.Add($"the folder is mode {Octal(folderMode)}");
        }

        foreach (string file in Directory.EnumerateFiles(folder, "*.db*").Order(StringComparer.Ordinal))
        {
            UnixFileMode mode = File.GetUnixFileMode(file);
            if ((mode & readOrWrite) != 0)
            {
                open.Add($"{Path.GetFileName(file)} is mode {Octal(mode)}");
            }
        }

        return open.Count == 0 ? null
            : $"The data directory '{folder}' holds raw messages and other users may read or write it: {string.Join(", ", open)}. "
              + "chmod 700 the folder and 600 its *.db* files";
    }

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');

    /// <summary>
    /// The lock, held until disposed; null when another process holds it. Throws (<see cref="IOException"/>,
    /// <see cref="UnauthorizedAccessException"/>) when the folder cannot be made or written: not a folder, read-only, full.
    /// </summary>
    public static FileStream? TryAcquire(string dataDirectory)
    {
        string folder = CreateFolder(dataDirectory);
        try
        {
            return new FileStream(Path.Combine(folder, "engine.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            // Held by another engine, or a folder this process cannot write (a read-only mount gives the same exception
            // type): a file of its own tells them apart, and throws for the second.
            using (new FileStream(Path.Combine(folder, $".engine.probe.{Environment.ProcessId}"), FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }

            return null;
        }
    }
}
