using StreamEngine.TestKit;

namespace StreamEngine.Hl7v2.Tests;

/// <summary>The real-world corpus (see TestData/README.md): everything parses or yields coded issues, nothing throws.</summary>
public sealed class CorpusTests
{
    public static TheoryData<string> WellFormed()
    {
        var data = new TheoryData<string>();
        foreach ((string file, string flags, string separator) in TestData.CorpusManifest())
        {
            // HAPI's ProcessorImplTest L138 declares one character for every delimiter ("MSH{{{{{"): unusable on purpose.
            if (!flags.Contains("malformed_hint", StringComparison.Ordinal) && !flags.Contains("fuzzer", StringComparison.Ordinal)
                && !file.EndsWith("070_unknown_ProcessorImplTest-L138.hl7", StringComparison.Ordinal) && !flags.Contains("batch", StringComparison.Ordinal)
                && !flags.Contains("ctrl", StringComparison.Ordinal) && !flags.Contains("multi_msh", StringComparison.Ordinal) && separator != "none")
            {
                data.Add(file);
            }
        }

        return data;
    }

    public static TheoryData<string> All()
    {
        var data = new TheoryData<string>();
        foreach ((string file, _, _) in TestData.CorpusManifest())
        {
            data.Add(file);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(WellFormed))]
    public void WellFormedCorpusMessage_ParsesWithItsHeaderReadable(string file)
    {
        byte[] bytes = TestData.Bytes("corpus", file);
        Hl7Parser.TryParse(bytes, out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues);
        Assert.NotNull(message);
        Assert.DoesNotContain(issues, i => i.Code is Hl7IssueCode.BadMsh or Hl7IssueCode.BadDelimiters or Hl7IssueCode.SegmentTooLong);
        Assert.True(message.SegmentCount >= 1);
        Assert.Equal(bytes, message.Raw.ToArray()); // the index never alters the bytes it was built over
    }

    [Theory]
    [MemberData(nameof(All))]
    public void AnyCorpusInput_NeverThrows_AndEveryFailureIsCoded(string file)
    {
        byte[] bytes = TestData.Bytes("corpus", file);
        bool ok = Hl7Parser.TryParse(bytes, out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues);
        Assert.Equal(ok, message is not null && !issues.Any(i => i.IsError)); // usable exactly when indexed and free of errors
        if (message is not null)
        {
            Walk(message);
        }
    }

    [Fact]
    public void FuzzerFindings_NeverThrowAgain()
    {
        foreach (string file in Directory.GetFiles(TestData.PathOf("fuzz")))
        {
            byte[] bytes = File.ReadAllBytes(file);
            if (Hl7Parser.TryParse(bytes, out Hl7Message? message, out _) || message is not null)
            {
                Walk(message!);
                _ = new Hl7MessageEditor(message!).ToBytes();
            }

            Hl7Batch.TryParse(bytes, out _, out _);
            _ = Hl7StreamReader.ReadAll(bytes);
        }
    }

    [Fact]
    public void BareMshSegment_HasAnEmptyMsh1()
    {
        Hl7Parser.TryParse(TestData.Message(@"MSH|^~\&|A|B|||2026||ADT^A01|1|P|2.5", "MSH"), out Hl7Message? message, out _);
        Assert.Equal("", message![1].Field(1).ToString());
        Assert.Equal("", message[1].Field(2).ToString());
    }

    [Fact]
    public void SeededMutations_NeverThrow()
    {
        var random = new Random(20261130);
        byte[][] seeds = [TestData.Bytes("bench", "adt_a01.hl7"), TestData.Bytes("bench", "oru_r01_20obx.hl7"), TestData.Bytes("bench", "adt_a08_v24_z.hl7")];
        byte[] specials = "|^~\\&\r\n\x0b\x1c"u8.ToArray();
        for (int round = 0; round < 3000; round++)
        {
            List<byte> m = [.. seeds[round % seeds.Length]];
            int edits = random.Next(1, 8);
            for (int e = 0; e < edits && m.Count > 0; e++)
            {
                int at = random.Next(m.Count);
                switch (random.Next(5))
                {
                    case 0: m[at] = (byte)random.Next(256); break;
                    case 1: m.Insert(at, specials[random.Next(specials.Length)]); break;
                    case 2: m.RemoveAt(at); break;
                    case 3: m.InsertRange(at, Enumerable.Repeat(specials[random.Next(specials.Length)], random.Next(1, 50))); break;
                    default: m.RemoveRange(at, m.Count - at); break;
                }
            }

            Hl7Parser.TryParse(m.ToArray(), out Hl7Message? message, out _);
            if (message is not null)
            {
                Walk(message);
                _ = Hl7AckBuilder.Code(message, AckOutcome.Accepted);
                _ = new Hl7AckBuilder(DateTimeOffset.UnixEpoch).Build(message, "AA", new AckError(Hl7ErrorCode.DataTypeError, "PID", 1, 3), null, DateTimeOffset.UnixEpoch);
            }
            else
            {
                _ = Hl7AckBuilder.LooseControlId(m.ToArray());
            }
        }
    }

    private static void Walk(Hl7Message message)
    {
        for (int s = 0; s < message.SegmentCount; s++)
        {
            Hl7Segment segment = message[s];
            for (int f = 1; f <= Math.Min(segment.FieldCount + 1, 60); f++)
            {
                Hl7Value field = segment.Field(f);
                for (int r = 1; r <= Math.Min(field.RepetitionCount, 5); r++)
                {
                    _ = field.Repetition(r).Component(2).Subcomponent(2).ToString();
                    _ = field.Repetition(r).ToString();
                }
            }
        }
    }
}
