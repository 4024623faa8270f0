using System.Text;
using StreamEngine.Diagnostics;

namespace StreamEngine.Host.Tests;

public sealed class GcBudgetTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] set) =>
        name => set.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void OnlyARuntimeOnItsFallbackBudget_WithNoBudgetChosen_GetsOne()
    {
        Assert.True(GcBudget.ShouldApply(Env(), budgetIsTheFallback: true));
        Assert.False(GcBudget.ShouldApply(Env(), budgetIsTheFallback: false)); // the runtime sized it from the caches
        Assert.False(GcBudget.ShouldApply(Env((GcBudget.Variable, "0")), budgetIsTheFallback: true)); // the operator's choice, even the default
        Assert.False(GcBudget.ShouldApply(Env(("COMPlus_GCgen0size", "0x4000000")), budgetIsTheFallback: true));
        Assert.False(GcBudget.ShouldApply(Env(("DOTNET_DiagnosticPorts", "/tmp/trace.sock")), budgetIsTheFallback: true)); // a tool holds this image
        Assert.False(GcBudget.ShouldApply(Env((GcBudget.AppliedMarker, "1")), budgetIsTheFallback: true)); // never a second exec
    }

    [Fact]
    public void EachArgumentOfTheCommandLineIsFound_AsItsBytesStand()
    {
        byte[] cmdline = [.. Encoding.UTF8.GetBytes("dotnet\0/opt/se/streamengine.dll\0run\0--config\0/etc/se/"), 0xE9, .. "trust.json\0\0"u8];
        List<int> starts = GcBudget.ArgumentStarts(cmdline);
        byte[] Argument(int i) => cmdline[starts[i]..Array.IndexOf(cmdline, (byte)0, starts[i])];
        Assert.Equal(6, starts.Count);
        Assert.Equal(["dotnet", "/opt/se/streamengine.dll", "run", "--config"], Enumerable.Range(0, 4).Select(i => Encoding.UTF8.GetString(Argument(i))));
        Assert.Equal([.. "/etc/se/"u8, 0xE9, .. "trust.json"u8], Argument(4)); // a Latin-1 path stays as it was
        Assert.Empty(Argument(5)); // an empty argument stays one
        Assert.Empty(GcBudget.ArgumentStarts([]));
    }
}
