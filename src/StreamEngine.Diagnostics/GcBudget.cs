using System.Runtime.InteropServices;
using System.Text;

namespace StreamEngine.Diagnostics;

/// <summary>
/// The garbage collector's gen-0 budget on machines that hide their CPU caches.
/// <para>.NET sizes the budget (how much is allocated between two gen-0 collections) from the CPU's largest cache: about
/// half of it, 16 MiB on a server with a 32 MiB L3. It reads the sizes from <c>/sys/devices/system/cpu/cpu0/cache</c>;
/// some virtual machines (Firecracker guests among them) have no such folder, and the runtime then falls back to its
/// minimum, and the budget stays within a few MiB. The engine allocates ~70 KB per message end to end (the FHIR object
/// model of the mapping most of all), so there, under load, it collected 75-90 times a second (40-60 of them gen-1,
/// as messages in flight outlived the small gen-0), its threads stopped for 18-23% of the time; with 16 MiB, 25-30
/// collections and 6-12% (perf/RESULTS.md, session 31).</para>
/// <para>The budget can only be set from the environment (<c>DOTNET_GCgen0size</c>: the runtime has no runtimeconfig
/// name for it), read once when the runtime starts. So on such a machine, when the variable is not set, the process
/// replaces itself (<c>execve</c>: the same process id, arguments and open standard streams) with a copy that has it
/// set to <see cref="FallbackBudget"/>, what a common server gets by default. Setting the variable yourself, to any
/// value (<c>0</c> is the runtime's own default), leaves the start alone.</para>
/// </summary>
public static class GcBudget
{
    /// <summary>The runtime's variable for the smallest gen-0 budget (hexadecimal bytes).</summary>
    public const string Variable = "DOTNET_GCgen0size";

    /// <summary>Set beside <see cref="Variable"/> by <see cref="ApplyForThisMachine"/>, so the new image knows why it has it.</summary>
    public const string AppliedMarker = "STREAMENGINE_GC_GEN0_APPLIED";

    /// <summary>The budget given where the machine reports no cache sizes: 16 MiB.</summary>
    public const long FallbackBudget = 16 * 1024 * 1024;

    private const string CacheFolder = "/sys/devices/system/cpu/cpu0/cache";

    /// <summary>
    /// What the start-up should say about the budget, once logging is up: null when there is nothing to say (the machine
    /// reports its caches, or the variable was set by the operator).
    /// </summary>
    public static string? Describe()
    {
        if (Environment.GetEnvironmentVariable(AppliedMarker) is not null
            && Environment.GetEnvironmentVariable(Variable) is { } value)
        {
            return $"This machine reports no CPU cache sizes ({CacheFolder}): the garbage collector's gen-0 budget was set to "
                + $"{FallbackBudget / (1024 * 1024)} MiB ({Variable}={value}) instead of the runtime's minimum; set {Variable} yourself to choose another";
        }

        return null;
    }

    /// <summary>
    /// Whether a start with these variables, on a machine whose cache folder does or does not exist, should set the budget.
    /// </summary>
    public static bool ShouldApply(Func<string, string?> environment, bool cacheSizesReported) =>
        !cacheSizesReported
        && environment(Variable) is null
        && environment("COMPlus_GCgen0size") is null // the older prefix the runtime still reads
        && environment(AppliedMarker) is null; // never twice: an exec that did not take leaves the process as it was

    /// <summary>
    /// On Linux, on a machine that reports no cache sizes and with <see cref="Variable"/> not set: replaces this process
    /// with the same command line and the budget set, and does not return. Anywhere else it returns at once; it also
    /// returns, changing nothing, if the exec fails.
    /// </summary>
    public static void ApplyForThisMachine()
    {
        if (!OperatingSystem.IsLinux()
            || !ShouldApply(Environment.GetEnvironmentVariable, Directory.Exists(CacheFolder)))
        {
            return;
        }

        string[] arguments;
        try
        {
            arguments = ReadCommandLine(File.ReadAllBytes("/proc/self/cmdline"));
        }
        catch (IOException)
        {
            return;
        }
        catch (UnauthorizedAccessException)
        {
            return;
        }

        if (arguments.Length == 0)
        {
            return;
        }

        var environment = new List<string>();
        foreach (System.Collections.DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            environment.Add($"{variable.Key}={variable.Value}");
        }

        environment.Add($"{Variable}=0x{FallbackBudget:X}");
        environment.Add($"{AppliedMarker}=1");
        Console.Out.Flush();
        Console.Error.Flush();
        ReleaseDiagnosticsPort();
        try
        {
            _ = Execve(Environment.ProcessPath ?? "/proc/self/exe", Utf8Array(arguments), Utf8Array(environment)); // returns only on failure
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // No libc to ask: the start goes on as it was.
        }
    }

    // This runtime's diagnostics port (what dotnet-counters, dotnet-trace and dotnet-dump connect to), a socket file named
    // after the process id: the exec closes the socket but leaves the file, and the new runtime, with the same id, could
    // not bind its own (connection refused for every tool). Removed first; the new runtime makes it again.
    private static void ReleaseDiagnosticsPort()
    {
        try
        {
            string folder = Environment.GetEnvironmentVariable("TMPDIR") is { Length: > 0 } tmp ? tmp : "/tmp";
            foreach (string socket in Directory.EnumerateFiles(folder, $"dotnet-diagnostic-{Environment.ProcessId}-*-socket"))
            {
                File.Delete(socket);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left as it is: the engine runs the same, without the tools.
        }
    }

    // NUL-terminated UTF-8 strings and a null pointer after the last, as execve reads them. Not freed: on success this
    // image is gone, on a failure they are a few KB once.
    private static IntPtr[] Utf8Array(IReadOnlyList<string> values)
    {
        var pointers = new IntPtr[values.Count + 1];
        for (int i = 0; i < values.Count; i++)
        {
            pointers[i] = Marshal.StringToCoTaskMemUTF8(values[i]);
        }

        return pointers;
    }

    /// <summary>The arguments in <c>/proc/self/cmdline</c>: NUL-terminated, in the order given.</summary>
    public static string[] ReadCommandLine(ReadOnlySpan<byte> cmdline)
    {
        var arguments = new List<string>();
        while (!cmdline.IsEmpty)
        {
            int end = cmdline.IndexOf((byte)0);
            if (end < 0)
            {
                end = cmdline.Length;
            }

            arguments.Add(Encoding.UTF8.GetString(cmdline[..end]));
            cmdline = end < cmdline.Length ? cmdline[(end + 1)..] : [];
        }

        return [.. arguments];
    }

    [DllImport("libc", EntryPoint = "execve", SetLastError = true)]
    private static extern int Execve([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr[] argv, IntPtr[] envp);
}
