using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;
using StreamEngine.Diagnostics;

namespace StreamEngine.Mllp;

/// <summary>
/// Cuts a TCP byte stream into MLLP frame payloads. Pulls upstream only when every decoded frame has been
/// pushed, so a slow consumer stops socket reads (backpressure). A frame over the limit fails the stage with
/// <see cref="MllpFrameTooLargeException"/>; a frame not finished within the frame timeout with
/// <see cref="MllpFrameTimeoutException"/>; no frame begun within the idle timeout with
/// <see cref="MllpIdleTimeoutException"/>. Both timeouts count only the time the stage spends waiting for the
/// sender (pulled, no bytes yet): while the engine itself is busy (a slow commit) the sender is not to blame.
/// Any of these fails only this connection.
/// </summary>
public sealed class MllpFramingStage : GraphStage<FlowShape<ByteString, byte[]>>
{
    private const string FrameTimer = "frame";
    private readonly int _maxFrameBytes;
    private readonly TimeSpan? _frameTimeout;
    private readonly TimeSpan? _idleTimeout;
    private readonly KeyValuePair<string, object?> _tag;

    private MllpFramingStage(int maxFrameBytes, TimeSpan? frameTimeout, TimeSpan? idleTimeout, string? listenerId)
    {
        _maxFrameBytes = maxFrameBytes;
        _frameTimeout = frameTimeout;
        _idleTimeout = idleTimeout;
        _tag = new("listener", listenerId ?? "unknown");
        Shape = new FlowShape<ByteString, byte[]>(In, Out);
    }

    /// <summary>The framing flow.</summary>
    /// <param name="maxFrameBytes">Required: the largest payload accepted.</param>
    /// <param name="frameTimeout">How long a begun frame may take to finish; null for no limit.</param>
    /// <param name="listenerId">Tags the discarded-bytes metric (streamengine.mllp.bytes_discarded).</param>
    /// <param name="idleTimeout">How long the sender may stay silent between frames; null for no limit.</param>
    public static Flow<ByteString, byte[], Akka.NotUsed> Create(int maxFrameBytes, TimeSpan? frameTimeout = null, string? listenerId = null,
        TimeSpan? idleTimeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrameBytes, 1);
        foreach (TimeSpan? limit in new[] { frameTimeout, idleTimeout })
        {
            if (limit is { } t)
            {
                ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(t, TimeSpan.Zero);
            }
        }

        return Flow.FromGraph(new MllpFramingStage(maxFrameBytes, frameTimeout, idleTimeout, listenerId)).Named("MllpFraming");
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
        private long _pulledAt;          // Stopwatch timestamp of the pending pull, or 0 when not waiting for the sender
        private TimeSpan _frameWaited;   // time spent waiting for the sender since the current frame began
        private TimeSpan _idleWaited;    // time spent waiting for the sender since the last frame ended (noise does not reset it)

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
            if (_pulledAt != 0)
            {
                CancelTimer(FrameTimer);
                TimeSpan waited = System.Diagnostics.Stopwatch.GetElapsedTime(_pulledAt);
                if (wasInFrame)
                {
                    _frameWaited += waited;
                }
                else
                {
                    _idleWaited += waited;
                }

                _pulledAt = 0;
            }

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

            // A frame abandoned for a new start block does not restart the clock: a sender that never finishes a frame
            // is cut off by the frame timeout however often it starts one.
            if (_decoder.InFrame && (!wasInFrame || _decoded.Count > 0))
            {
                _frameWaited = TimeSpan.Zero; // a new frame began in this chunk: its clock starts now
            }

            if (_decoded.Count > 0 || _decoder.InFrame)
            {
                _idleWaited = TimeSpan.Zero; // a frame ended or began: the sender is not idle
            }

            PushOrPull();
        }

        public void OnPull() => PushOrPull();

        protected override void OnTimer(object timerKey) => FailStage(_decoder.InFrame
            ? new MllpFrameTimeoutException(_stage._frameTimeout!.Value)
            : new MllpIdleTimeoutException(_stage._idleTimeout!.Value));

        // Waiting for the sender from now: arm the limit that applies, net of what this frame already waited.
        private void PullAndWatch()
        {
            Pull(_stage.In);
            _pulledAt = System.Diagnostics.Stopwatch.GetTimestamp();
            TimeSpan? limit = _decoder.InFrame ? _stage._frameTimeout - _frameWaited : _stage._idleTimeout - _idleWaited;
            if (limit is { } remaining)
            {
                ScheduleOnce(FrameTimer, remaining > TimeSpan.Zero ? remaining : TimeSpan.FromTicks(1));
            }
        }

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
                PullAndWatch();
            }
        }
    }
}
