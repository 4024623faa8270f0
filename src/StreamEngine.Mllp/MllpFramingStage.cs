using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;
using StreamEngine.Diagnostics;

namespace StreamEngine.Mllp;

/// <summary>
/// Cuts a TCP byte stream into MLLP frame payloads. Pulls upstream only when every decoded frame has been
/// pushed, so a slow consumer stops socket reads (backpressure). A frame over the limit fails the stage with
/// <see cref="MllpFrameTooLargeException"/>, and a frame begun but not finished within the frame timeout with
/// <see cref="MllpFrameTimeoutException"/>; either fails only this connection.
/// </summary>
public sealed class MllpFramingStage : GraphStage<FlowShape<ByteString, byte[]>>
{
    private const string FrameTimer = "frame";
    private readonly int _maxFrameBytes;
    private readonly TimeSpan? _frameTimeout;
    private readonly KeyValuePair<string, object?> _tag;

    private MllpFramingStage(int maxFrameBytes, TimeSpan? frameTimeout, string? listenerId)
    {
        _maxFrameBytes = maxFrameBytes;
        _frameTimeout = frameTimeout;
        _tag = new("listener", listenerId ?? "unknown");
        Shape = new FlowShape<ByteString, byte[]>(In, Out);
    }

    /// <summary>The framing flow.</summary>
    /// <param name="maxFrameBytes">Required: the largest payload accepted.</param>
    /// <param name="frameTimeout">How long a begun frame may take to finish; null for no limit.</param>
    /// <param name="listenerId">Tags the discarded-bytes metric (streamengine.mllp.bytes_discarded).</param>
    public static Flow<ByteString, byte[], Akka.NotUsed> Create(int maxFrameBytes, TimeSpan? frameTimeout = null, string? listenerId = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrameBytes, 1);
        if (frameTimeout is { } t)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(t, TimeSpan.Zero);
        }

        return Flow.FromGraph(new MllpFramingStage(maxFrameBytes, frameTimeout, listenerId)).Named("MllpFraming");
    }

    private Inlet<ByteString> In { get; } = new("MllpFraming.in");

    private Outlet<byte[]> Out { get; } = new("MllpFraming.out");

    /// <inheritdoc />
    public override FlowShape<ByteString, byte[]> Shape { get; }

    /// <inheritdoc />
    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : TimerGraphStageLogic, IInHandler, IOutHandler
    {
        private readonly MllpFramingStage _stage;
        private readonly MllpDecoder _decoder;
        private readonly List<byte[]> _decoded = [];
        private int _next;

        public Logic(MllpFramingStage stage) : base(stage.Shape)
        {
            _stage = stage;
            _decoder = new MllpDecoder(stage._maxFrameBytes);
            SetHandler(stage.In, this);
            SetHandler(stage.Out, this);
        }

        public void OnPush()
        {
            ByteString chunk = Grab(_stage.In);
            _decoded.Clear();
            _next = 0;
            bool wasInFrame = _decoder.InFrame;
            long discardedBefore = _decoder.DiscardedBytes;
            try
            {
                _decoder.Feed(chunk.ToReadOnlySpan(), _decoded);
            }
            catch (MllpFrameTooLargeException e)
            {
                FailStage(e);
                return;
            }

            if (_decoder.DiscardedBytes != discardedBefore)
            {
                StreamEngineTelemetry.BytesDiscarded.Add(_decoder.DiscardedBytes - discardedBefore, _stage._tag);
            }

            if (_stage._frameTimeout is { } timeout)
            {
                if (!_decoder.InFrame)
                {
                    CancelTimer(FrameTimer);
                }
                else if (!wasInFrame || _decoded.Count > 0)
                {
                    ScheduleOnce(FrameTimer, timeout); // a new frame began: its clock starts now
                }
            }

            PushOrPull();
        }

        public void OnPull() => PushOrPull();

        protected override void OnTimer(object timerKey) => FailStage(new MllpFrameTimeoutException(_stage._frameTimeout!.Value));

        public void OnDownstreamFinish(Exception cause) => InternalOnDownstreamFinish(cause);

        public void OnUpstreamFailure(Exception e) => FailStage(e);

        public void OnUpstreamFinish()
        {
            if (_next >= _decoded.Count)
            {
                CompleteStage();
            }

            // Otherwise the remaining frames are pushed on pull; completion follows in PushOrPull.
        }

        private void PushOrPull()
        {
            if (!IsAvailable(_stage.Out))
            {
                return;
            }

            if (_next < _decoded.Count)
            {
                Push(_stage.Out, _decoded[_next++]);
            }
            else if (IsClosed(_stage.In))
            {
                CompleteStage();
            }
            else if (!HasBeenPulled(_stage.In))
            {
                Pull(_stage.In);
            }
        }
    }
}
