using System.Text.Json;

namespace StreamEngine.IntegrationTests;

/// <summary>A scratch folder per test, and helpers to read what the NDJSON sink wrote.</summary>
internal sealed class TestFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("se-it-").FullName;

    public string Out => System.IO.Path.Combine(Path, "out");

    /// <summary>Writes streamengine.json here: one listener as given, the NDJSON sink under out/, and an optional store.</summary>
    public Task WriteConfigAsync(object listener, object? store = null, object? admin = null, object? retention = null, object? sink = null) =>
        File.WriteAllTextAsync(System.IO.Path.Combine(Path, "streamengine.json"), JsonSerializer.Serialize(new
        {
            dataDirectory = System.IO.Path.Combine(Path, "data"),
            store,
            admin,
            retention,
            listeners = new[] { listener },
            sinks = new[] { sink ?? new { name = "fhir", type = "ndjson", path = Out } },
        }, new JsonSerializerOptions { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull }));

    /// <summary>
    /// The data directory's files as (name, length, last write), the shared-memory index of SQLite's WAL aside (every
    /// reader marks its place there): what must stay the same while the store is only read.
    /// </summary>
    public List<string> StoreFiles() => [.. Directory.GetFiles(System.IO.Path.Combine(Path, "data"), "*", SearchOption.AllDirectories)
        .Where(f => !f.EndsWith("-shm", StringComparison.Ordinal)).Order(StringComparer.Ordinal)
        .Select(f => $"{System.IO.Path.GetFileName(f)} {new FileInfo(f).Length} {File.GetLastWriteTimeUtc(f):O}")];

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A process that has not released a file yet; the temp folder is cleaned by the OS.
        }
    }

    /// <summary>Every complete NDJSON line the sink has written so far, parsed.</summary>
    public List<JsonDocument> Lines()
    {
        var lines = new List<JsonDocument>();
        if (!Directory.Exists(Out))
        {
            return lines;
        }

        foreach (string file in Directory.GetFiles(Out, "*.ndjson").Order(StringComparer.Ordinal)) // rotated files sort by time
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            string text = reader.ReadToEnd();
            int end = text.LastIndexOf('\n');
            foreach (string line in text[..(end + 1)].Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                lines.Add(JsonDocument.Parse(line));
            }
        }

        return lines;
    }

    /// <summary>Waits (bounded) until the sink holds at least <paramref name="count"/> lines; returns them.</summary>
    public async Task<List<JsonDocument>> AwaitLinesAsync(int count, TimeSpan? timeout = null)
    {
        DateTime deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            List<JsonDocument> lines = Lines();
            if (lines.Count >= count || DateTime.UtcNow > deadline)
            {
                return lines;
            }

            await Task.Delay(50);
        }
    }

    public static string ControlId(JsonDocument bundle) => bundle.RootElement.GetProperty("identifier").GetProperty("value").GetString()!;

    public static string DeliveryId(JsonDocument bundle) => bundle.RootElement.GetProperty("meta").GetProperty("source").GetString()!;

    /// <summary>The journal sequence number a line was delivered for (the <c>#N</c> of its delivery id).</summary>
    public static long Sequence(JsonDocument bundle)
    {
        string id = DeliveryId(bundle);
        return long.Parse(id[(id.LastIndexOf('#') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Lines sorted by journal position: a sink's lanes write different patients in any order.</summary>
    public static List<JsonDocument> InJournalOrder(IEnumerable<JsonDocument> lines) => [.. lines.OrderBy(Sequence)];

    /// <summary>
    /// Each patient's messages appear in the file in the order they were sent (what a sink promises: per patient, not
    /// across patients).
    /// </summary>
    public static void AssertPatientOrder(IEnumerable<(string ControlId, string Patient)> sent, IEnumerable<JsonDocument> lines)
    {
        var patientOf = sent.ToDictionary(m => m.ControlId, m => m.Patient);
        var written = lines.Select(ControlId).Where(patientOf.ContainsKey).ToList();
        foreach (IGrouping<string, (string ControlId, string Patient)> patient in sent.GroupBy(m => m.Patient))
        {
            Assert.Equal(patient.Select(m => m.ControlId), written.Where(id => patientOf[id] == patient.Key));
        }
    }
}
