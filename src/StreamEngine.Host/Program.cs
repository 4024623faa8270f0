using System.CommandLine;
using StreamEngine.Host.Commands;

namespace StreamEngine.Host;

/// <summary>The <c>streamengine</c> command line.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static async Task<int> Main(string[] args)
    {
        if (args is ["run", ..])
        {
            // The engine itself (not the admin commands): where the runtime's gen-0 budget is its fallback (a machine that
            // hides its CPU caches) this start is replaced by one with a sane budget, before anything else runs (GcBudget).
            StreamEngine.Diagnostics.GcBudget.ApplyForThisMachine();
        }

        var root = new RootCommand("StreamEngine: HL7 v2 over MLLP in, FHIR R4 out, effectively once.")
        {
            RunCommand.Create(),
            SendCommand.Create(),
            InspectCommand.Create(),
            ConvertCommand.Create(),
        };
        foreach (System.CommandLine.Command command in AdminCommands.Create())
        {
            root.Subcommands.Add(command);
        }

        // The host handles Ctrl-C and SIGTERM itself (graceful stop of listeners, sinks and journal).
        var invocation = new InvocationConfiguration { ProcessTerminationTimeout = null };
        ParseResult parse = root.Parse(args);
        int code = await parse.InvokeAsync(invocation);
        return parse.Errors.Count > 0 ? 2 : code; // a usage error (said with the help text), as the README lists
    }
}
