namespace StreamEngine.TestKit;

/// <summary>Locates the copied test data next to the test assembly.</summary>
public static class TestData
{
    /// <summary>The TestData folder in the test output.</summary>
    public static string Root { get; } = Path.Combine(AppContext.BaseDirectory, "TestData");

    /// <summary>A path under TestData.</summary>
    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    /// <summary>The bytes of a file under TestData.</summary>
    public static byte[] Bytes(params string[] parts) => File.ReadAllBytes(PathOf(parts));

    /// <summary>
    /// The corpus manifest rows: file (relative to corpus/) and flags. Malformed inputs (fuzzer cases, bad batches)
    /// are flagged <c>malformed_hint</c>, <c>ctrl</c> or <c>batch</c>.
    /// </summary>
    public static IReadOnlyList<(string File, string Flags, string Separator)> CorpusManifest()
    {
        var rows = new List<(string, string, string)>();
        foreach (string line in File.ReadLines(PathOf("corpus", "manifest.tsv")).Skip(1))
        {
            string[] cells = line.Split('\t');
            if (cells.Length >= 11)
            {
                // nHapi's BadInputs are fuzzer outputs: deliberately malformed, whatever their other flags say.
                string flags = cells[3].Contains("BadInputs", StringComparison.Ordinal) ? cells[10] + ",fuzzer" : cells[10];
                rows.Add((cells[0], flags, cells[6]));
            }
        }

        return rows;
    }

    /// <summary>An ASCII HL7 message from segments, joined with CR.</summary>
    public static byte[] Message(params string[] segments) => System.Text.Encoding.ASCII.GetBytes(string.Join('\r', segments) + "\r");
}
