using System.Buffers;

namespace StreamEngine.Mllp;

/// <summary>A frame over the configured limit: the connection cannot be trusted to re-synchronise.</summary>
public sealed class MllpFrameTooLargeException(int maxFrameBytes)
    : Exception($"MLLP frame exceeds maxFrameBytes ({maxFrameBytes} bytes).")
{
    /// <summary>The limit that was exceeded.</summary>
    public int MaxFrameBytes { get; } = maxFrameBytes;
}

/// <summary>A frame begun but not finished in time (a stalled or slowloris sender).</summary>
public sealed class MllpFrameTimeoutException(TimeSpan frameTimeout)
    : Exception($"MLLP frame not completed within frameTimeout ({frameTimeout.TotalSeconds:0.###} s).")
{
    /// <summary>The limit that was exceeded.</summary>
    public TimeSpan FrameTimeout { get; } = frameTimeout;
}

/// <summary>A connection silent for too long between frames.</summary>
public sealed class MllpIdleTimeoutException(TimeSpan idleTimeout)
    : TimeoutException($"No MLLP frame begun within idleTimeout ({idleTimeout.TotalSeconds:0.###} s).")
{
    /// <summary>The limit that was exceeded.</summary>
    public TimeSpan IdleTimeout { get; } = idleTimeout;
}

/// <summary>
/// Incremental MLLP decoder: <c>0x0B payload 0x1C 0x0D</c>. Bytes outside a frame are discarded and counted;
/// a missing CR after 0x1C is tolerated; frames may be split across any read boundaries. A start block inside a frame
/// (which MLLP forbids in a payload) means the sender gave up on that frame and began another: the unfinished one is
/// discarded and counted, never joined to the next message. Not thread-safe: one decoder per connection.
/// </summary>
public sealed class MllpDecoder
{
    /// <summary>Start block.</summary>
    public const byte StartBlock = 0x0B;

    /// <summary>End block.</summary>
    public const byte EndBlock = 0x1C;

    /// <summary>Carriage return that follows the end block.</summary>
    public const byte CarriageReturn = 0x0D;

    private readonly int _maxFrameBytes;
    private readonly ArrayBufferWriter<byte> _frame = new(4096);
    private bool _inFrame;
    private bool _skipCr;

    /// <summary>Creates a decoder.</summary>
    /// <param name="maxFrameBytes">Largest payload accepted; a larger frame throws <see cref="MllpFrameTooLargeException"/>.</param>
    public MllpDecoder(int maxFrameBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrameBytes, 1);
        _maxFrameBytes = maxFrameBytes;
    }

    /// <summary>Bytes seen outside any frame so far (noise before a start block, keep-alives, stray CRs).</summary>
    public long DiscardedBytes { get; private set; }

    /// <summary>True while a frame has begun and not ended.</summary>
    public bool InFrame => _inFrame;

    /// <summary>Bytes of the frame in progress.</summary>
    public int PendingBytes => _frame.WrittenCount;

    /// <summary>Feeds bytes; every completed frame's payload is added to <paramref name="frames"/>.</summary>
    public void Feed(ReadOnlySpan<byte> data, List<byte[]> frames)
    {
        while (!data.IsEmpty)
        {
            if (!_inFrame)
            {
                if (_skipCr)
                {
                    _skipCr = false;
                    if (data[0] == CarriageReturn)
                    {
                        data = data[1..];
                        continue;
                    }
                }

                int start = data.IndexOf(StartBlock);
                if (start < 0)
                {
                    DiscardedBytes += data.Length;
                    return;
                }

                DiscardedBytes += start;
                data = data[(start + 1)..];
                _inFrame = true;
                continue;
            }

            int end = data.IndexOfAny(EndBlock, StartBlock);
            if (end >= 0 && data[end] == StartBlock)
            {
                // A new frame begins before this one ended: this one (its start block included) is abandoned.
                DiscardedBytes += _frame.WrittenCount + end + 1;
                _frame.ResetWrittenCount();
                data = data[(end + 1)..];
                continue;
            }

            ReadOnlySpan<byte> chunk = end < 0 ? data : data[..end];
            if (_frame.WrittenCount + chunk.Length > _maxFrameBytes)
            {
                throw new MllpFrameTooLargeException(_maxFrameBytes);
            }

            _frame.Write(chunk);
            if (end < 0)
            {
                return;
            }

            frames.Add(_frame.WrittenSpan.ToArray());
            _frame.ResetWrittenCount();
            if (_frame.Capacity > 1 << 20)
            {
                // Give back a buffer that one huge frame grew, so an idle connection does not pin it.
                _frame.Clear();
            }

            _inFrame = false;
            _skipCr = true;
            data = data[(end + 1)..];
        }
    }
}
