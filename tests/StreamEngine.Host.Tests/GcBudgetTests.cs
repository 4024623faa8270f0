using System.Text;
using StreamEngine.Diagnostics;

namespace StreamEngine.Host.Tests;

public sealed class GcBudgetTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] set) =>
        name => set.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void OnlyAMachineThatHidesItsCaches_WithNoBudgetChosen_GetsOne()
    {
        Assert.True(GcBudget.ShouldApply(Env(), cacheSizesReported: false));
        Assert.False(GcBudget.ShouldApply(Env(), cacheSizesReported: true)); // the runtime sizes it from the caches
        Assert.False(GcBudget.ShouldApply(Env((GcBudget.Variable, "0")), cacheSizesReported: false)); // the operator's choice, even the default
        Assert.False(GcBudget.ShouldApply(Env(("COMPlus_GCgen0size", "0x4000000")), cacheSizesReported: false));
        Assert.False(GcBudget.ShouldApply(Env((GcBudget.AppliedMarker, "1")), cacheSizesReported: false)); // never a second exec
    }

    [Fact]
    public void TheCommandLineIsReadBackArgumentForArgument()
    {
        byte[] cmdline = Encoding.UTF8.GetBytes("dotnet\0/opt/se/streamengine.dll\0run\0--config\0/etc/se/trust é.json\0\0");
        Assert.Equal(["dotnet", "/opt/se/streamengine.dll", "run", "--config", "/etc/se/trust é.json", ""], GcBudget.ReadCommandLine(cmdline));
        Assert.Empty(GcBudget.ReadCommandLine([]));
    }
}
