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
    public static string CreateFolder(string dataDirectory)
    {
        string folder = Path.GetFullPath(dataDirectory);
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
