using System.Text;

namespace StreamEngine.Mllp.Tests;

public sealed class MllpDecoderTests
{
    private static byte[] Frame(string payload) => MllpFrame.Wrap(Encoding.ASCII.GetBytes(payload));

    private static List<string> Decode(MllpDecoder decoder, params byte[][] chunks)
    {
        var frames = new List<byte[]>();
        foreach (byte[] chunk in chunks)
        {
            decoder.Feed(chunk, frames);
        }

        return frames.Select(f => Encoding.ASCII.GetString(f)).ToList();
    }

    [Fact]
    public void Feed_ConsecutiveFrames_YieldsEachPayload()
    {
        byte[] input = [.. Frame("MSH|one"), .. Frame("MSH|two"), .. Frame("")];
        Assert.Equal(["MSH|one", "MSH|two", ""], Decode(new MllpDecoder(1024), input));
    }

    [Fact]
    public void Feed_RandomChunkBoundaries_YieldsTheSameFrames()
    {
        var random = new Random(4242);
        string[] payloads = Enumerable.Range(0, 50).Select(i => "MSH|^~\\&|" + new string((char)('A' + (i % 26)), random.Next(0, 3000))).ToArray();
        byte[] stream = payloads.SelectMany(Frame).ToArray();
        for (int round = 0; round < 50; round++)
        {
            var decoder = new MllpDecoder(1 << 20);
            var frames = new List<byte[]>();
            int offset = 0;
            while (offset < stream.Length)
            {
                int size = Math.Min(stream.Length - offset, random.Next(1, 700));
                decoder.Feed(stream.AsSpan(offset, size), frames);
                offset += size;
            }

            Assert.Equal(payloads, frames.Select(f => Encoding.ASCII.GetString(f)));
            Assert.Equal(0, decoder.DiscardedBytes);
        }
    }

    [Fact]
    public void Feed_BytesBeforeStartBlock_AreDiscardedAndCounted()
    {
        var decoder = new MllpDecoder(1024);
        Assert.Equal(["MSH|x"], Decode(decoder, [.. "noise\r\n"u8.ToArray(), .. Frame("MSH|x")]));
        Assert.Equal(7, decoder.DiscardedBytes);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(1000)]
    public void Feed_AStartBlockInsideAFrame_AbandonsTheUnfinishedFrame_NeverJoinsItToTheNext(int chunkSize)
    {
        // A sender that gave up on a frame part-way and began again: the next message must arrive whole and alone.
        byte[] input = [0x0B, .. "MSH|^~\\&|PAS|RX1|ROU"u8.ToArray(), .. Frame("MSH|whole"), .. Frame("MSH|next")];
        var decoder = new MllpDecoder(1024);
        byte[][] chunks = input.Chunk(chunkSize).ToArray();
        Assert.Equal(["MSH|whole", "MSH|next"], Decode(decoder, chunks));
        Assert.Equal(1 + 20, decoder.DiscardedBytes); // its start block and the 20 bytes after it
    }

    [Fact]
    public void Feed_MissingCrAfterEndBlock_IsTolerated()
    {
        byte[] input = [MllpDecoder.StartBlock, .. "MSH|a"u8.ToArray(), MllpDecoder.EndBlock, MllpDecoder.StartBlock, .. "MSH|b"u8.ToArray(), MllpDecoder.EndBlock];
        var decoder = new MllpDecoder(1024);
        Assert.Equal(["MSH|a", "MSH|b"], Decode(decoder, input));
        Assert.Equal(0, decoder.DiscardedBytes);
    }

    [Fact]
    public void Feed_CrAfterEndBlockInTheNextChunk_IsNotCountedAsNoise()
    {
        byte[] frame = Frame("MSH|a");
        var decoder = new MllpDecoder(1024);
        Assert.Equal(["MSH|a"], Decode(decoder, frame[..^1], frame[^1..]));
        Assert.Equal(0, decoder.DiscardedBytes);
    }

    [Fact]
    public void Feed_FrameOverTheLimit_Throws()
    {
        var decoder = new MllpDecoder(10);
        Assert.Equal(["0123456789"], Decode(decoder, Frame("0123456789")));
        var frames = new List<byte[]>();
        MllpFrameTooLargeException e = Assert.Throws<MllpFrameTooLargeException>(() => decoder.Feed(Frame("01234567890"), frames));
        Assert.Equal(10, e.MaxFrameBytes);
    }

    [Fact]
    public void Feed_UnfinishedFrame_IsHeldUntilItEnds()
    {
        var decoder = new MllpDecoder(1024);
        Assert.Empty(Decode(decoder, [MllpDecoder.StartBlock, .. "MSH|par"u8.ToArray()]));
        Assert.True(decoder.InFrame);
        Assert.Equal(7, decoder.PendingBytes);
        Assert.Equal(["MSH|partial"], Decode(decoder, [.. "tial"u8.ToArray(), MllpDecoder.EndBlock, MllpDecoder.CarriageReturn]));
    }

    [Fact]
    public void Wrap_ProducesOneFrameInOneBuffer()
    {
        Assert.Equal([0x0B, (byte)'A', 0x1C, 0x0D], MllpFrame.Wrap("A"u8));
    }
}
