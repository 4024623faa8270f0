using System.Text;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;

namespace StreamEngine.Mllp.Tests;

public sealed class MllpFramingStageTests : Akka.TestKit.Xunit2.TestKit
{
    private readonly IMaterializer _materializer;

    public MllpFramingStageTests() => _materializer = Sys.Materializer();

    [Fact]
    public async Task Stage_RechunkedInput_EmitsEveryFrameInOrder()
    {
        var random = new Random(7);
        string[] payloads = Enumerable.Range(0, 200).Select(i => $"MSH|^~\\&|{i}|" + new string('x', random.Next(0, 500))).ToArray();
        byte[] stream = payloads.SelectMany(p => MllpFrame.Wrap(Encoding.ASCII.GetBytes(p))).ToArray();
        var chunks = new List<ByteString>();
        for (int offset = 0; offset < stream.Length;)
        {
            int size = Math.Min(stream.Length - offset, random.Next(1, 300));
            chunks.Add(ByteString.FromBytes(stream, offset, size));
            offset += size;
        }

        IReadOnlyList<byte[]> frames = await Source.From(chunks).Via(MllpFramingStage.Create(1 << 16)).RunWith(Sink.Seq<byte[]>(), _materializer);
        Assert.Equal(payloads, frames.Select(f => Encoding.ASCII.GetString(f)));
    }

    [Fact]
    public void Stage_PullsUpstreamOnlyWhenDownstreamWantsAndNothingIsDecoded()
    {
        // Source, counter and stage are fused in one island, so the counter sees exactly the stage's pulls.
        int reads = 0;
        ByteString twoFrames = ByteString.FromBytes([.. MllpFrame.Wrap("MSH|1"u8), .. MllpFrame.Wrap("MSH|2"u8)]);
        ByteString third = ByteString.FromBytes(MllpFrame.Wrap("MSH|3"u8));
        TestSubscriber.ManualProbe<byte[]> downstream = this.CreateManualSubscriberProbe<byte[]>();
        Source.From([twoFrames, third])
            .Select(chunk => { Interlocked.Increment(ref reads); return chunk; })
            .Via(MllpFramingStage.Create(1024))
            .To(Sink.FromSubscriber(downstream))
            .Run(_materializer);
        Reactive.Streams.ISubscription subscription = downstream.ExpectSubscription();

        subscription.Request(1);
        Assert.Equal("MSH|1", Encoding.ASCII.GetString(downstream.ExpectNext()));
        Assert.Equal(1, Volatile.Read(ref reads));
        subscription.Request(1);
        Assert.Equal("MSH|2", Encoding.ASCII.GetString(downstream.ExpectNext()));
        Assert.Equal(1, Volatile.Read(ref reads)); // the second frame was already decoded: no read for it
        subscription.Request(1);
        Assert.Equal("MSH|3", Encoding.ASCII.GetString(downstream.ExpectNext()));
        Assert.Equal(2, Volatile.Read(ref reads));
    }

    [Fact]
    public async Task Stage_FrameOverLimit_FailsTheStream()
    {
        var failure = await Assert.ThrowsAsync<MllpFrameTooLargeException>(() =>
            Source.Single(ByteString.FromBytes(MllpFrame.Wrap(new byte[2048]))).Via(MllpFramingStage.Create(1024)).RunWith(Sink.Seq<byte[]>(), _materializer));
        Assert.Equal(1024, failure.MaxFrameBytes);
    }

    [Fact]
    public async Task Stage_UpstreamEndsAfterSeveralFrames_EmitsThemAllThenCompletes()
    {
        byte[] both = [.. MllpFrame.Wrap("MSH|a"u8), .. MllpFrame.Wrap("MSH|b"u8), MllpDecoder.StartBlock, (byte)'x'];
        IReadOnlyList<byte[]> frames = await Source.Single(ByteString.FromBytes(both)).Via(MllpFramingStage.Create(1024)).RunWith(Sink.Seq<byte[]>(), _materializer);
        Assert.Equal(["MSH|a", "MSH|b"], frames.Select(f => Encoding.ASCII.GetString(f)));
    }

    [Fact]
    public void Stage_FrameNotFinishedInTime_FailsWithFrameTimeout()
    {
        TestPublisher.Probe<ByteString> upstream = this.CreatePublisherProbe<ByteString>();
        TestSubscriber.Probe<byte[]> downstream = this.CreateSubscriberProbe<byte[]>();
        Source.FromPublisher(upstream).Via(MllpFramingStage.Create(1024, TimeSpan.FromMilliseconds(300))).To(Sink.FromSubscriber(downstream)).Run(_materializer);
        downstream.Request(10);
        upstream.SendNext(ByteString.FromBytes([.. MllpFrame.Wrap("MSH|ok"u8), MllpDecoder.StartBlock, (byte)'M', (byte)'S']));
        Assert.Equal("MSH|ok", Encoding.ASCII.GetString(downstream.ExpectNext()));
        Exception error = downstream.ExpectError();
        Assert.IsType<MllpFrameTimeoutException>(error);
    }

    [Fact]
    public void Stage_IdleBetweenFrames_IsNotAFrameTimeout()
    {
        TestPublisher.Probe<ByteString> upstream = this.CreatePublisherProbe<ByteString>();
        TestSubscriber.Probe<byte[]> downstream = this.CreateSubscriberProbe<byte[]>();
        Source.FromPublisher(upstream).Via(MllpFramingStage.Create(1024, TimeSpan.FromMilliseconds(200))).To(Sink.FromSubscriber(downstream)).Run(_materializer);
        downstream.Request(10);
        upstream.SendNext(ByteString.FromBytes(MllpFrame.Wrap("MSH|1"u8)));
        Assert.Equal("MSH|1", Encoding.ASCII.GetString(downstream.ExpectNext()));
        downstream.ExpectNoMsg(TimeSpan.FromMilliseconds(500)); // silence after a complete frame: no failure
        upstream.SendNext(ByteString.FromBytes(MllpFrame.Wrap("MSH|2"u8)));
        Assert.Equal("MSH|2", Encoding.ASCII.GetString(downstream.ExpectNext()));
    }

    [Fact]
    public async Task Stage_NoiseBetweenFrames_IsCountedInTheDiscardedBytesMetric()
    {
        long discarded = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "streamengine.mllp.bytes_discarded")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == "listener" && (string?)tag.Value == "noise-test")
                {
                    Interlocked.Add(ref discarded, value);
                }
            }
        });
        listener.Start();

        byte[] input = [.. "junk"u8.ToArray(), .. MllpFrame.Wrap("MSH|1"u8), .. "\r\nmore"u8.ToArray(), .. MllpFrame.Wrap("MSH|2"u8)];
        IReadOnlyList<byte[]> frames = await Source.Single(ByteString.FromBytes(input)).Via(MllpFramingStage.Create(1024, null, "noise-test")).RunWith(Sink.Seq<byte[]>(), _materializer);
        Assert.Equal(2, frames.Count);
        Assert.Equal(10, Interlocked.Read(ref discarded)); // "junk" and "\r\nmore" (the CR after each end block is the frame's own)
    }

    [Fact]
    public void Stage_FrameTimeout_CountsOnlyTimeSpentWaitingForTheSender()
    {
        TestPublisher.Probe<ByteString> upstream = this.CreatePublisherProbe<ByteString>();
        TestSubscriber.Probe<byte[]> downstream = this.CreateSubscriberProbe<byte[]>();
        Source.FromPublisher(upstream).Via(MllpFramingStage.Create(1024, TimeSpan.FromMilliseconds(300), "t", TimeSpan.FromMilliseconds(300)))
            .To(Sink.FromSubscriber(downstream)).Run(_materializer);
        downstream.Request(1);
        upstream.SendNext(ByteString.FromBytes([.. MllpFrame.Wrap("MSH|1"u8), MllpDecoder.StartBlock, (byte)'M']));
        Assert.Equal("MSH|1", Encoding.ASCII.GetString(downstream.ExpectNext()));
        downstream.ExpectNoMsg(TimeSpan.FromMilliseconds(800)); // the engine is busy (no demand): not the sender's fault
        downstream.Request(1);
        upstream.SendNext(ByteString.FromBytes([.. "SH|2"u8.ToArray(), MllpDecoder.EndBlock, MllpDecoder.CarriageReturn]));
        Assert.Equal("MSH|2", Encoding.ASCII.GetString(downstream.ExpectNext()));
    }

    [Fact]
    public void Stage_SilentSenderBetweenFrames_FailsWithIdleTimeout()
    {
        TestPublisher.Probe<ByteString> upstream = this.CreatePublisherProbe<ByteString>();
        TestSubscriber.Probe<byte[]> downstream = this.CreateSubscriberProbe<byte[]>();
        Source.FromPublisher(upstream).Via(MllpFramingStage.Create(1024, null, "t", TimeSpan.FromMilliseconds(300)))
            .To(Sink.FromSubscriber(downstream)).Run(_materializer);
        downstream.Request(5);
        upstream.SendNext(ByteString.FromBytes(MllpFrame.Wrap("MSH|1"u8)));
        downstream.ExpectNext();
        Assert.IsType<MllpIdleTimeoutException>(downstream.ExpectError());
    }

    [Fact]
    public async Task Stage_NoiseBetweenFrames_DoesNotKeepAnIdleConnectionAlive()
    {
        TestPublisher.Probe<ByteString> upstream = this.CreatePublisherProbe<ByteString>();
        TestSubscriber.Probe<byte[]> downstream = this.CreateSubscriberProbe<byte[]>();
        Source.FromPublisher(upstream).Via(MllpFramingStage.Create(1024, null, "t", TimeSpan.FromMilliseconds(300)))
            .To(Sink.FromSubscriber(downstream)).Run(_materializer);
        downstream.Request(5);
        var failed = Task.Run(() => downstream.ExpectError()); // within the probe's default 3 s
        // A byte of noise every 100 ms: never a frame. The idle clock must keep running through it.
        for (int i = 0; i < 30 && !failed.IsCompleted; i++)
        {
            await upstream.SendNextAsync(ByteString.FromBytes("x"u8.ToArray()));
            await Task.Delay(100);
        }

        Assert.IsType<MllpIdleTimeoutException>(await failed);
    }
}
