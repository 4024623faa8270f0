namespace StreamEngine.Policy.Tests;

public sealed class OptOutListTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("se-optout-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ReadsNumbersWithSpacesAndComments_AndPicksUpAChangedFile()
    {
        string file = Path.Combine(_dir, "opt-out.txt");
        File.WriteAllText(file, "# list of 2026-11-30\n943 476 5919\n\n9990000026 # test patient\n");
        var list = new OptOutList(file, TimeSpan.Zero);
        Assert.Equal(2, list.Count);
        Assert.True(list.Contains("9434765919"));
        Assert.False(list.Contains("9990000018"));

        File.WriteAllText(file, "9990000018\n");
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(5));
        Assert.True(list.Contains("9990000018"));
        Assert.False(list.Contains("9434765919"));
    }

    [Fact]
    public void ChecksWhileTheEditedListIsRead_GoByTheNewList_AndAListGoneForAMomentKeepsTheOldOne()
    {
        // The first check after an edit read the file; checks on other lanes meanwhile skipped the look (its time was
        // already set) and went by the old list: a few of an opted-out patient's messages reached a research sink.
        string file = Path.Combine(_dir, "opt-out.txt");
        File.WriteAllText(file, "9990000018\n");
        var recheck = TimeSpan.FromMilliseconds(300);
        var list = new OptOutList(file, recheck);
        var loaded = System.Diagnostics.Stopwatch.StartNew();
        File.WriteAllText(file, "9990000018\n9434765919\n");
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(5));
        using var started = new ManualResetEventSlim();
        using var proceed = new ManualResetEventSlim();
        list.Reading = () =>
        {
            started.Set();
            proceed.Wait(TimeSpan.FromSeconds(30));
        };
        while (loaded.Elapsed < recheck * 1.2)
        {
            Thread.Sleep(10); // the interval the list is looked at by (not a synchronisation)
        }

        bool first = false, during = false;
        var reading = new Thread(() => first = list.Contains("9434765919"));
        reading.Start();
        Assert.True(started.Wait(TimeSpan.FromSeconds(30))); // the edited list is being read
        var checking = new Thread(() => during = list.Contains("9434765919"));
        checking.Start();
        Assert.False(checking.Join(TimeSpan.FromMilliseconds(200))); // it waits for the read (it went by the old list)
        proceed.Set();
        Assert.True(reading.Join(TimeSpan.FromSeconds(30)) && checking.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal((true, true), (first, during));

        list.Reading = null;
        File.Delete(file); // an editor's delete and rewrite: the list in force stays
        loaded.Restart();
        while (loaded.Elapsed < recheck * 1.2)
        {
            Thread.Sleep(10);
        }

        Assert.True(list.Contains("9434765919"));
    }

    [Fact]
    public void AListWithALineThatIsNotAnNhsNumber_IsRefusedAtStart_AndLaterKeepsTheLastGoodList()
    {
        string file = Path.Combine(_dir, "opt-out.txt");
        File.WriteAllText(file, "nhs_number,date\n9434765919,2026-11-30\n");
        var e = Assert.Throws<InvalidDataException>(() => new OptOutList(file));
        Assert.Equal("line 1 is not a valid NHS number", e.Message); // the line, never its content

        File.WriteAllText(file, "9434765919\n");
        var list = new OptOutList(file, TimeSpan.Zero);
        var refusals = new List<string>();
        list.ReloadRefused += refusals.Add;
        File.WriteAllText(file, "9434765919\n99900000"); // half written
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(5));
        Assert.True(list.Contains("9434765919")); // still in force
        Assert.True(list.Contains("9434765919"));
        Assert.Equal(2, list.Rejected);
        Assert.Equal(["line 2 is not a valid NHS number"], refusals); // said once per version of the file
    }
}

public sealed class ConsentFolderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("se-consent-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Consent(string status, string type, string nhs) => $$"""
        { "resourceType": "Consent", "status": "{{status}}",
          "scope": { "coding": [ { "system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research" } ] },
          "category": [ { "coding": [ { "system": "http://loinc.org", "code": "59284-0" } ] } ],
          "patient": { "identifier": { "system": "https://fhir.nhs.uk/Id/nhs-number", "value": "{{nhs}}" } },
          "provision": { "type": "{{type}}" } }
        """;

    [Fact]
    public void ActiveDenyConsents_AreTheOptOutList_AndTheFolderIsReloadedWhenItChanges()
    {
        File.WriteAllText(Path.Combine(_dir, "a.json"), Consent("active", "deny", "9434765919"));
        File.WriteAllText(Path.Combine(_dir, "b.json"), Consent("active", "permit", "9990000026"));
        File.WriteAllText(Path.Combine(_dir, "c.json"), Consent("inactive", "deny", "9990000018"));
        var list = new OptOutList(_dir, TimeSpan.Zero);
        Assert.Equal(1, list.Count);
        Assert.True(list.Contains("9434765919"));

        File.WriteAllText(Path.Combine(_dir, "d.json"), Consent("active", "deny", "9990000018"));
        Assert.True(list.Contains("9990000018"));

        File.WriteAllText(Path.Combine(_dir, "e.json"), """{ "resourceType": "Patient" }""");
        Assert.True(list.Contains("9990000018")); // an invalid folder leaves the last good list in force
        Assert.Equal(1, list.Rejected);
        Assert.Throws<InvalidDataException>(() => new OptOutList(_dir));
    }
}
