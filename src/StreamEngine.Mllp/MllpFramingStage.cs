using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;

namespace StreamEngine.Mllp;

/// <summary>
/// Cuts a TCP byte stream into MLLP frame payloads. Pulls upstream only when every decoded frame has been
/// pushed, so a slow consumer stops socket reads (backpressure). A frame over the limit fails the stage with
/// <see cref="MllpFrameTooLargeException"/>; that fails only this connection.
/// </summary>
public sealed class MllpFramingStage : GraphStage<FlowShape<ByteString, byte[]>>
{
    private readonly int _maxFrameBytes;

    private MllpFramingStage(int maxFrameBytes)
    {
        _maxFrameBytes = maxFrameBytes;
        Shape = new FlowShape<ByteString, byte[]>(In, Out);
    }

    /// <summary>The framing flow.</summary>
    /// <param name="maxFrameBytes">Required: the largest payload accepted.</param>
    public static Flow<ByteString, byte[], Akka.NotUsed> Create(int maxFrameBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrameBytes, 1);
        return Flow.FromGraph(new MllpFramingStage(maxFrameBytes)).Named("MllpFraming");
    }

    private Inlet<ByteString> In { get; } = new("MllpFraming.in");

    private Outlet<byte[]> Out { get; } = new("MllpFraming.out");

    /// <inheritdoc />
    public override FlowShape<ByteString, byte[]> Shape { get; }

    /// <inheritdoc />
    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : InAndOutGraphStageLogic
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

        public override void OnPush()
        {
            ByteString chunk = Grab(_stage.In);
            _decoded.Clear();
            _next = 0;
            try
            {
                _decoder.Feed(chunk.ToReadOnlySpan(), _decoded);
            }
            catch (MllpFrameTooLargeException e)
            {
                FailStage(e);
                return;
            }

            PushOrPull();
        }

        public override void OnPull() => PushOrPull();

        public override void OnUpstreamFinish()
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
