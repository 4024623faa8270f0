namespace StreamEngine.Policy.Tests;

public sealed class OptOutListTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("se-optout-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ReadsNumbersWithSpacesAndComments_AndPicksUpAChangedFile()
    {
        string file = Path.Combine(_dir, "opt-out.txt");
        File.WriteAllText(file, "# list of 2026-11-30\n943 476 5919\n\n9990000026 # test patient\nnot a number\n9990000019\n");
        var list = new OptOutList(file, TimeSpan.Zero);
        Assert.Equal(2, list.Count); // the invalid check digit is not a number on the list
        Assert.True(list.Contains("9434765919"));
        Assert.False(list.Contains("9990000018"));

        File.WriteAllText(file, "9990000018\n");
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(5));
        Assert.True(list.Contains("9990000018"));
        Assert.False(list.Contains("9434765919"));
    }
}
