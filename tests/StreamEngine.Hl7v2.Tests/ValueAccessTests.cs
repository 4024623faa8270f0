using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using StreamEngine.TestKit;

namespace StreamEngine.Hl7v2.Tests;

/// <summary>
/// What the read path keeps between reads (segment ids from a shared table, MSH-9 and MSH-10 decoded once per parse, the
/// raw array sliced directly) must never show one message's text in another's, whatever the input's memory.
/// </summary>
public sealed class ValueAccessTests
{
    [Fact]
    public void MessageIdentity_ReadBeforeAReparse_IsTheNewMessagesAfterIt()
    {
        var message = new Hl7Message();
        Assert.True(Hl7Parser.TryParse(TestData.Message(@"MSH|^~\&|A|B|||2026||ADT^A01|FIRST|P|2.4", "PID|1||M1"), message, out _));
        Assert.Equal(("ADT", "A01", "FIRST"), (message.MessageCode, message.TriggerEvent, message.ControlId));

        Assert.True(Hl7Parser.TryParse(TestData.Message(@"MSH|^~\&|A|B|||2026||ORU^R01|SECOND|P|2.4", "PID|1||M2"), message, out _));
        Assert.Equal(("ORU", "R01", "SECOND"), (message.MessageCode, message.TriggerEvent, message.ControlId));
    }

    [Fact]
    public void MessageIdentity_IsDecodedInTheDeclaredCharset()
    {
        byte[] latin1 = [.. Encoding.ASCII.GetBytes(@"MSH|^~\&|A|B|||2024||ADT^A01|N"), 0xE9, .. Encoding.ASCII.GetBytes("|P|2.5||||||8859/1\rPID|1||X\r")];
        Assert.True(Hl7Parser.TryParse(latin1, out Hl7Message? message, out _));
        Assert.Equal("Né", message!.ControlId);
    }

    [Fact]
    public void SegmentIds_AreSharedStrings_AndRightForEveryId()
    {
        Hl7Parser.TryParse(TestData.Message(@"MSH|^~\&|A|B|||2026||ADT^A01|C1|P|2.4", "PID|1||M1", "ZU1|1|x", "Z99|2"), out Hl7Message? first, out _);
        Hl7Parser.TryParse(TestData.Message(@"MSH|^~\&|A|B|||2026||ADT^A01|C2|P|2.4", "ZU1|1|y", "PID|1||M2"), out Hl7Message? second, out _);
        Assert.Equal(["MSH", "PID", "ZU1", "Z99"], Enumerable.Range(0, 4).Select(i => first![i].Id));
        Assert.Equal(["MSH", "ZU1", "PID"], Enumerable.Range(0, 3).Select(i => second![i].Id));
        Assert.Same(first![2].Id, second![1].Id);
    }

    [Fact]
    public void AMessageInMemoryThatIsNotAnArray_ReadsTheSame()
    {
        byte[] bytes = TestData.Bytes("bench", "adt_a01.hl7");
        using var native = new NativeMemory(bytes);
        Assert.False(MemoryMarshal.TryGetArray((ReadOnlyMemory<byte>)native.Memory, out _));
        Assert.True(Hl7Parser.TryParse(native.Memory, out Hl7Message? fromNative, out _));
        Assert.True(Hl7Parser.TryParse(bytes, out Hl7Message? fromArray, out _));
        foreach (string path in new[] { "MSH-10", "PID-3(2).1", "PID-5.2", "NK1(2)-2.1", "DG1(2)-3.2" })
        {
            Assert.Equal(fromArray!.Get(path), fromNative!.Get(path));
        }

        Assert.Equal(fromArray!.ControlId, fromNative!.ControlId);
    }

    [Fact]
    public void AMessageInTheMiddleOfALargerArray_ReadsItsOwnBytes()
    {
        byte[] bytes = TestData.Bytes("bench", "adt_a01.hl7");
        byte[] padded = [.. "garbage|^~"u8, .. bytes, .. "|trailing"u8];
        Assert.True(Hl7Parser.TryParse(padded.AsMemory(10, bytes.Length), out Hl7Message? inner, out _));
        Assert.True(Hl7Parser.TryParse(bytes, out Hl7Message? whole, out _));
        Assert.Equal(whole!.Get("PID-5.1"), inner!.Get("PID-5.1"));
        Assert.Equal(whole.ControlId, inner.ControlId);
        Assert.Equal(whole[whole.SegmentCount - 1].Span.ToArray(), inner[inner.SegmentCount - 1].Span.ToArray());
    }

    [Theory]
    [InlineData("A^B^C")]
    [InlineData("^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^X")] // separators on both sides of the short-piece search's limit
    [InlineData("ONE-PIECE-LONGER-THAN-THIRTY-TWO-BYTES-WITHOUT-SEPARATORS")]
    [InlineData("A-LONG-FIRST-COMPONENT-OF-THIRTY-THREE^B^C-IS-ALSO-A-RATHER-LONG-COMPONENT^^E&E2&E3-LONG-SUBCOMPONENT-TEXT-HERE~R2^R2B")]
    public void Components_AreWhatSplittingTheFieldGives(string field)
    {
        Hl7Parser.TryParse(TestData.Message(@"MSH|^~\&|A|B|||2026||ADT^A01|C1|P|2.4", "ZZ1|" + field), out Hl7Message? message, out _);
        Hl7Value value = message![1].Field(1);
        string[] repetitions = field.Split('~');
        string[] components = repetitions[0].Split('^');
        for (int c = 1; c <= components.Length + 1; c++)
        {
            string expected = c <= components.Length ? components[c - 1] : string.Empty;
            Assert.Equal(expected, value.Component(c).RawText);
            string[] subcomponents = expected.Split('&');
            for (int s = 1; s <= subcomponents.Length + 1; s++)
            {
                Assert.Equal(s <= subcomponents.Length ? subcomponents[s - 1] : string.Empty, value.Component(c).Subcomponent(s).RawText);
            }
        }

        Assert.Equal(repetitions.Length, value.RepetitionCount);
        Assert.Equal(repetitions[^1], value.Repetition(repetitions.Length).RawText);
    }

    [Fact]
    public void AFieldsComponent_IsItsFirstRepetitionsComponent_InEveryCorpusMessage()
    {
        int compared = 0;
        foreach ((string file, _, _) in TestData.CorpusManifest())
        {
            // every input, the fuzzer's and the one with one character for every delimiter included
            if (Hl7Parser.TryParse(TestData.Bytes("corpus", file), out Hl7Message? message, out _) && message is not null)
            {
                compared += CompareComponentReads(message);
            }
        }

        Assert.True(compared > 10_000, $"only {compared} reads compared");
    }

    [Fact]
    public void AFieldsComponent_IsItsFirstRepetitionsComponent_InRandomFields()
    {
        var random = new Random(20261203);
        int compared = 0;
        byte[] alphabet = "^~&\\#|AB1 "u8.ToArray();
        foreach (string header in new[] { @"MSH|^~\&", @"MSH|^~\&#", @"MSH|^~", @"MSH|^^\&", "MSH|~~\\&" })
        {
            for (int round = 0; round < 400; round++)
            {
                var field = new char[random.Next(0, 80)];
                for (int i = 0; i < field.Length; i++)
                {
                    byte b = alphabet[random.Next(alphabet.Length)];
                    field[i] = b == '|' ? 'x' : (char)b; // one field per segment: no field separator inside
                }

                byte[] bytes = TestData.Message(header + "|A|B|||2026||ADT^A01|C1|P|2.5", "PID|" + new string(field) + "|" + new string(field));
                if (Hl7Parser.TryParse(bytes, out Hl7Message? message, out _) && message is not null)
                {
                    compared += CompareComponentReads(message);
                }
            }
        }

        Assert.True(compared > 2_000 * 2 * 12, $"only {compared} reads compared"); // most of the 2,000 messages parsed and read
    }

    // Each field's components read directly and through its first repetition: the same bytes at the same place.
    private static int CompareComponentReads(Hl7Message message)
    {
        int compared = 0;
        for (int s = 0; s < message.SegmentCount; s++)
        {
            Hl7Segment segment = message[s];
            for (int f = 1; f <= segment.FieldCount + 1; f++)
            {
                Hl7Value field = segment.Field(f);
                for (int c = 1; c <= 12; c++)
                {
                    Hl7Value direct = field.Component(c);
                    Hl7Value stepwise = field.Repetition(1).Component(c);
                    Assert.Equal(stepwise.Level, direct.Level);
                    Assert.Equal(stepwise.Length, direct.Length);
                    Assert.True(Unsafe.AreSame(ref MemoryMarshal.GetReference(stepwise.Span), ref MemoryMarshal.GetReference(direct.Span)),
                        $"{segment.Id}-{f}.{c} starts elsewhere");
                    Assert.Equal(stepwise.ToString(), direct.ToString());
                    compared++;
                }
            }
        }

        return compared;
    }

    // Memory whose bytes are not reachable as an array (as a pipe's or a native buffer's are not).
    private sealed class NativeMemory(byte[] bytes) : MemoryManager<byte>
    {
        private readonly byte[] _bytes = (byte[])bytes.Clone();

        public override Span<byte> GetSpan() => _bytes;

        public override MemoryHandle Pin(int elementIndex = 0) => throw new NotSupportedException();

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
