using System.Runtime.InteropServices;

namespace StreamEngine.Diagnostics;

/// <summary>
/// The garbage collector's gen-0 budget on machines that hide their CPU caches.
/// <para>.NET sizes the budget (how much is allocated between two gen-0 collections) from the CPU's largest cache: about
/// half of it, 16 MiB on a server with a 32 MiB L3. Some virtual machines (Firecracker guests among them) report no
/// cache sizes (no <c>/sys/devices/system/cpu/cpu0/cache</c>), and the runtime then falls back to its minimum, 256 KiB,
/// with a budget that stays within a few MiB. The engine allocates ~70 KB per message end to end (the FHIR object model
/// of the mapping most of all), so there, under load, it collected 75-90 times a second (40-60 of them gen-1, as
/// messages in flight outlived the small gen-0), its threads stopped for 18-23% of the time; with 16 MiB, 25-30
/// collections and 6-12% (perf/RESULTS.md, session 31).</para>
/// <para>The budget can only be set from the environment (<c>DOTNET_GCgen0size</c>: the runtime has no runtimeconfig
/// name for it), read once when the runtime starts. So when this runtime's budget proves that small (8 MiB of garbage
/// allocated at start-up see three collections or more) and the variable is not set, the process replaces itself
/// (<c>execv</c>: the same process id, arguments, environment and open standard streams) with a copy that has it set to
/// <see cref="FallbackBudget"/>, what a common server gets by default. Setting the variable yourself, to any value
/// (<c>0</c> is the runtime's own default), leaves the start alone; so do a diagnostics port the runtime was told to use
/// (<c>DOTNET_DiagnosticPorts</c>: a tool that started the engine would lose it) and an attached debugger.</para>
/// </summary>
public static class GcBudget
{
    /// <summary>The runtime's variable for the smallest gen-0 budget (hexadecimal bytes).</summary>
    public const string Variable = "DOTNET_GCgen0size";

    /// <summary>Set beside <see cref="Variable"/> by <see cref="ApplyForThisMachine"/>, so the new image knows why it has it.</summary>
    public const string AppliedMarker = "STREAMENGINE_GC_GEN0_APPLIED";

    /// <summary>The budget given where the runtime's own is the fallback: 16 MiB.</summary>
    public const long FallbackBudget = 16 * 1024 * 1024;

    // Garbage allocated to see the budget: with the fallback (a budget of ~2 MiB here) four collections, with a budget of
    // a server's size none or one. Two or three milliseconds.
    private const int ProbeBytes = 8 * 1024 * 1024;
    private const int TinyBudgetCollections = 3;
    private const string DiagnosticsAside = ".streamengine-reexec";

    private static string? s_failure; // why an exec that was due did not happen, said once logging is up
    private static object? s_garbage;

    /// <summary>
    /// What the start-up should say about the budget once logging is up, and whether as a warning (the budget was due but
    /// could not be set); null when there is nothing to say.
    /// </summary>
    public static (string Text, bool Warning)? Describe()
    {
        if (s_failure is { } failure)
        {
            return ($"The garbage collector's gen-0 budget is the runtime's fallback (this machine reports no CPU cache sizes, or small ones) and could not be "
                + $"raised ({failure}): throughput is lower than it could be; set {Variable}=0x{FallbackBudget:X} in the engine's environment", true);
        }

        if (Environment.GetEnvironmentVariable(AppliedMarker) is not null
            && Environment.GetEnvironmentVariable(Variable) is { } value)
        {
            return ($"This machine reports no CPU cache sizes (or small ones): the garbage collector's gen-0 budget was set to {Variable}={value} "
                + $"instead of the runtime's fallback; set {Variable} yourself to choose another", false);
        }

        return null;
    }

    /// <summary>Whether a start with these variables, whose runtime has a budget that small or not, should set the budget.</summary>
    public static bool ShouldApply(Func<string, string?> environment, bool budgetIsTheFallback) =>
        budgetIsTheFallback
        && environment(Variable) is null
        && environment("COMPlus_GCgen0size") is null // the older prefix the runtime still reads
        && environment("DOTNET_DiagnosticPorts") is null // a tool connected to this image at its start would lose it
        && environment(AppliedMarker) is null; // never twice: an exec that did not take leaves the process as it was

    /// <summary>Whether this runtime's gen-0 budget is its fallback: 8 MiB of garbage see three collections or more.</summary>
    public static bool BudgetIsTheFallback()
    {
        int before = GC.CollectionCount(0);
        for (int allocated = 0; allocated < ProbeBytes; allocated += 1024)
        {
            s_garbage = new byte[1000]; // a static: no allocation the JIT could take away
        }

        s_garbage = null;
        return GC.CollectionCount(0) - before >= TinyBudgetCollections;
    }

    /// <summary>
    /// On Linux, when this runtime's budget is the fallback and <see cref="Variable"/> is not set: replaces this process
    /// with the same command line and environment plus the budget, and does not return. Anywhere else it returns at once;
    /// it also returns, changing nothing, if the exec fails (<see cref="Describe"/> then says why).
    /// </summary>
    public static void ApplyForThisMachine()
    {
        if (Environment.GetEnvironmentVariable(AppliedMarker) is not null)
        {
            RemoveAside(); // the first image's diagnostics socket file, set aside for this one to bind its own
            return;
        }

        if (!OperatingSystem.IsLinux() || System.Diagnostics.Debugger.IsAttached
            || !ShouldApply(Environment.GetEnvironmentVariable, BudgetIsTheFallback()))
        {
            return;
        }

        byte[] cmdline;
        try
        {
            cmdline = File.ReadAllBytes("/proc/self/cmdline");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            s_failure = $"/proc/self/cmdline: {e.GetType().Name}";
            return;
        }

        string? aside = null;
        try
        {
            // Added to the C library's environment, which the exec passes on byte for byte (the runtime keeps a copy
            // of its own, in UTF-16, that would not round-trip every value).
            if (SetEnv(Variable, $"0x{FallbackBudget:X}", 1) != 0 || SetEnv(AppliedMarker, "1", 1) != 0)
            {
                s_failure = $"setenv: errno {Marshal.GetLastPInvokeError()}";
            }
            else
            {
                aside = SetDiagnosticsPortAside();
                int errno = Exec(Environment.ProcessPath ?? "/proc/self/exe", cmdline);
                s_failure = $"execv: errno {errno}";
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            s_failure = e.GetType().Name;
        }

        // Still this image: it runs on as it was, its diagnostics port back where the tools look for it.
        _ = UnsetEnv(Variable);
        _ = UnsetEnv(AppliedMarker);
        if (aside is not null)
        {
            try
            {
                File.Move(aside, aside[..^DiagnosticsAside.Length]);
            }
            catch (IOException)
            {
                // Lost: this process runs without the diagnostics tools.
            }
        }
    }

    /// <summary>
    /// Where each argument starts in <c>/proc/self/cmdline</c> (each one NUL-terminated, in the order given): execv is
    /// handed pointers into those bytes as they are.
    /// </summary>
    public static List<int> ArgumentStarts(ReadOnlySpan<byte> cmdline)
    {
        var starts = new List<int>();
        for (int at = 0; at < cmdline.Length; at++)
        {
            starts.Add(at);
            int end = cmdline[at..].IndexOf((byte)0);
            at = end < 0 ? cmdline.Length : at + end;
        }

        return starts;
    }

    // execv with the arguments as they came (pointers into the pinned command line, a null pointer after the last);
    // returns errno.
    private static int Exec(string path, byte[] cmdline)
    {
        if (cmdline.Length == 0 || cmdline[^1] != 0)
        {
            cmdline = [.. cmdline, 0]; // a last argument without its NUL (a program that rewrote its argv)
        }

        List<int> starts = ArgumentStarts(cmdline);
        GCHandle pinned = GCHandle.Alloc(cmdline, GCHandleType.Pinned);
        try
        {
            IntPtr at = pinned.AddrOfPinnedObject();
            IntPtr[] argv = [.. starts.Select(start => at + start), IntPtr.Zero];
            _ = ExecV(path, argv);
            return Marshal.GetLastPInvokeError();
        }
        finally
        {
            pinned.Free();
        }
    }

    // This runtime's diagnostics port (what dotnet-counters, dotnet-trace and dotnet-dump connect to) is a socket file
    // named after the process id and its start time, both of which the exec keeps: the exec closes the socket but not
    // the file, and the new runtime could not bind its own (connection refused for every tool). Set aside first, and
    // put back if the exec fails; the new image removes it.
    private static string? SetDiagnosticsPortAside()
    {
        if (DiagnosticsPortPath() is not { } port || !File.Exists(port))
        {
            return null;
        }

        try
        {
            File.Move(port, port + DiagnosticsAside, overwrite: true);
            return port + DiagnosticsAside;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static void RemoveAside()
    {
        try
        {
            if (DiagnosticsPortPath() is { } port && File.Exists(port + DiagnosticsAside))
            {
                File.Delete(port + DiagnosticsAside);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left in the temporary folder: it holds nothing.
        }
    }

    // dotnet-diagnostic-{pid}-{start time}-socket in TMPDIR (else /tmp), as the runtime names it; the start time is field
    // 22 of /proc/self/stat (in clock ticks since boot).
    private static string? DiagnosticsPortPath()
    {
        try
        {
            string stat = File.ReadAllText("/proc/self/stat");
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // after the command name, from field 3 on
            string folder = Environment.GetEnvironmentVariable("TMPDIR") is { Length: > 0 } tmp ? tmp : "/tmp";
            return Path.Combine(folder, $"dotnet-diagnostic-{Environment.ProcessId}-{fields[22 - 3]}-socket");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException or ArgumentException)
        {
            return null;
        }
    }

    [DllImport("libc", EntryPoint = "execv", SetLastError = true)]
    private static extern int ExecV([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr[] argv);

    [DllImport("libc", EntryPoint = "setenv", SetLastError = true)]
    private static extern int SetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    [DllImport("libc", EntryPoint = "unsetenv", SetLastError = true)]
    private static extern int UnsetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name);
}
