using System.Buffers;
using System.Text;
using StreamEngine.TestKit;

namespace StreamEngine.Hl7v2.Tests;

public sealed class Hl7StreamReaderTests
{
    [Fact]
    public void ReadAll_SplitsOnMshAndBlankLines_KeepingBytesAsSent()
    {
        string file = "MSH|1\r\nPID|1\r\nMSH|2\nPID|2\n\nMSH|3\rPID|3";
        Assert.Equal(["MSH|1\r\nPID|1\r\n", "MSH|2\nPID|2\n", "MSH|3\rPID|3"],
            Hl7StreamReader.ReadAll(Encoding.ASCII.GetBytes(file)).Select(m => Encoding.ASCII.GetString(m.Span)));
    }

    [Fact]
    public void ReadAll_SkipsBatchEnvelopeSegments()
    {
        string file = "FHS|x\rBHS|y\rMSH|1\rPID|1\rBTS|1\rFTS|1\r";
        Assert.Equal(["MSH|1\rPID|1\r"], Hl7StreamReader.ReadAll(Encoding.ASCII.GetBytes(file)).Select(m => Encoding.ASCII.GetString(m.Span)));
    }

    [Fact]
    public void EveryStrictPrefixOfAMessage_IsIncomplete_AndNothingIsConsumed()
    {
        byte[] message = TestData.Bytes("bench", "adt_a01.hl7");
        for (int length = 0; length < message.Length; length++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(message, 0, length));
            Assert.False(Hl7StreamReader.TryReadMessage(ref reader, isFinalBlock: false, out _));
            Assert.Equal(0, reader.Consumed);

            // Read as final, every prefix either parses or fails with a coded issue; it never throws.
            bool ok = Hl7Parser.TryParse(message.AsMemory(0, length), out _, out IReadOnlyList<Hl7Issue> issues);
            Assert.True(ok || issues.Count > 0);
        }
    }

    [Fact]
    public void MessageFollowedByTheNextMsh_IsComplete_EvenAcrossSegmentsOfTheSequence()
    {
        byte[] two = Encoding.ASCII.GetBytes("MSH|1\rPID|1\rMSH|2\rPID|2\r");
        var first = new BufferSegment(two.AsMemory(0, 7));
        BufferSegment last = first.Append(two.AsMemory(7));
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length));
        Assert.True(Hl7StreamReader.TryReadMessage(ref reader, isFinalBlock: false, out ReadOnlySequence<byte> m1));
        Assert.Equal("MSH|1\rPID|1\r", Encoding.ASCII.GetString(m1.ToArray()));
        Assert.False(Hl7StreamReader.TryReadMessage(ref reader, isFinalBlock: false, out _));
        Assert.True(Hl7StreamReader.TryReadMessage(ref reader, isFinalBlock: true, out ReadOnlySequence<byte> m2));
        Assert.Equal("MSH|2\rPID|2\r", Encoding.ASCII.GetString(m2.ToArray()));
        Assert.False(Hl7StreamReader.TryReadMessage(ref reader, isFinalBlock: true, out _));
    }

    private sealed class BufferSegment : ReadOnlySequenceSegment<byte>
    {
        public BufferSegment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public BufferSegment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new BufferSegment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
