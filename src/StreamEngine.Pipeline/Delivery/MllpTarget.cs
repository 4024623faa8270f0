using StreamEngine.Hl7v2;
using StreamEngine.Mllp;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.Pipeline.Delivery;

/// <summary>One field rewrite of an onward MLLP sink: set a path to a value, or clear it (null).</summary>
public sealed record Hl7Rewrite(string Path, string? Value);

/// <summary>An onward MLLP sink's settings.</summary>
public sealed record MllpSinkOptions
{
    /// <summary>The receiver's host.</summary>
    public required string Host { get; init; }

    /// <summary>The receiver's port.</summary>
    public required int Port { get; init; }

    /// <summary>How long to wait for each ACK.</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Tries per message before the sink pauses and restarts with backoff.</summary>
    public int MaxAttempts { get; init; } = 4;

    /// <summary>Field rewrites applied before sending (e.g. MSH-5/MSH-6 for the next hop).</summary>
    public IReadOnlyList<Hl7Rewrite> Rewrites { get; init; } = [];

    /// <summary>The ACK codes that always quarantine the message: the receiver says its content is wrong.</summary>
    public static IReadOnlySet<string> AlwaysQuarantined { get; } = new HashSet<string>(StringComparer.Ordinal) { "AE", "CE" };

    /// <summary>
    /// <see cref="QuarantineOn"/>'s entry for a message the receiver dropped the connection on at every try
    /// (<see cref="SendResult.Dropped"/>): quarantined with this reason once its tries ran out.
    /// </summary>
    public const string Dropped = "DROPPED";

    /// <summary>
    /// The ACK codes that quarantine the message at once (<see cref="AlwaysQuarantined"/> and any of AR and CR listed),
    /// and <see cref="Dropped"/> if listed; AR and CR otherwise, and drops, are retried and then restart the sink.
    /// </summary>
    public IReadOnlySet<string> QuarantineOn { get; init; } = AlwaysQuarantined;
}

/// <summary>
/// Forwards each journaled HL7 v2 message, as received (or through the configured field rewrites: untouched segments
/// keep their bytes), to another MLLP receiver, one at a time and in order, waiting for each ACK. AA/CA is delivered;
/// AE/CE (the receiver says the content is wrong), and AR/CR where configured, is quarantined with the code, and where
/// configured a message the receiver dropped the connection on at every try, as <c>Dropped</c>; AR/CR otherwise,
/// timeouts and lost connections are retried and then thrown, so the sink restarts with backoff from its watermark.
/// Receivers recognise a resend by its unchanged MSH-10.
/// </summary>
public sealed class MllpTarget : IDeliveryTarget
{
    // Receivers (host:port) that hung up on a message quarantined as Dropped and have answered nothing since, for the
    // process's life: one that hangs up on every connection (at its connection limit, behind an allow-list, refusing
    // a client certificate) would otherwise have each next message quarantined in turn, one more at each of the sink's
    // restarts. Such a receiver costs one message quarantined, then is treated as down: the sink restarts with backoff.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> SilentSinceADrop = new(StringComparer.OrdinalIgnoreCase);

    private readonly MllpSender _sender;
    private readonly MllpSinkOptions _options;
    private readonly string _receiver;
    private readonly SinkFilter? _filter;
    private readonly CancellationToken _stopping;

    /// <summary>Creates the target (one connection, opened on first use).</summary>
    /// <param name="options">The receiver and how to send to it.</param>
    /// <param name="filter">Which messages go.</param>
    /// <param name="stopping">
    /// Cancelled when the engine stops and will not wait longer for a receiver: a send waiting for its ACK (or its next
    /// try) is given up, the message is not counted as delivered and goes again at the next start, so a receiver that
    /// never answers does not hold the stop.
    /// </param>
    public MllpTarget(MllpSinkOptions options, SinkFilter? filter = null, CancellationToken stopping = default)
    {
        _options = options;
        _receiver = $"{options.Host}:{options.Port}";
        _filter = filter;
        _stopping = stopping;
        _sender = new MllpSender(new MllpSenderOptions
        {
            Host = options.Host,
            Port = options.Port,
            AckTimeout = options.AckTimeout,
            MaxRetries = Math.Max(0, options.MaxAttempts - 1),
            MaxBackoff = TimeSpan.FromSeconds(5),
            DispositionOverrides = options.QuarantineOn.Where(code => code != MllpSinkOptions.Dropped)
                .ToDictionary(code => code, _ => AckDisposition.Reject, StringComparer.Ordinal),
        });
    }

    /// <inheritdoc />
    public IReadOnlySet<long> Open(long position) => new HashSet<long>();

    /// <inheritdoc />
    public long Position => 0;

    /// <inheritdoc />
    public bool RecordsEachDelivery => true;

    /// <inheritdoc />
    public bool DeliversOnCommit => true;

    /// <inheritdoc />
    public Task<PreparedDelivery> PrepareAsync(long sequenceNr, IIngestEvent journaled, CancellationToken cancellationToken)
    {
        DeliveryResult result = Prepare(journaled, out ReadOnlyMemory<byte>? message);
        return Task.FromResult(new PreparedDelivery(sequenceNr, result, message ?? default));
    }

    /// <inheritdoc />
    public DeliveryResult Commit(in PreparedDelivery prepared)
    {
        if (prepared.Result.Outcome != DeliveryOutcome.Delivered)
        {
            return prepared.Result;
        }

        // One connection, one message at a time on the sink's own thread: the receiver sees each patient's order.
        SendResult sent = _sender.SendAsync(prepared.Payload, _stopping).GetAwaiter().GetResult();
        if (sent.Code is not ("none" or "timeout" or "connection"))
        {
            SilentSinceADrop.TryRemove(_receiver, out _); // it answered (AA, AR, ...): it is up
        }

        return sent.Disposition switch
        {
            AckDisposition.Success => DeliveryResult.Delivered,
            AckDisposition.Reject => DeliveryResult.Quarantine("Ack:" + sent.Code),
            _ when sent.Dropped && _options.QuarantineOn.Contains(MllpSinkOptions.Dropped) => SilentSinceADrop.TryAdd(_receiver, true)
                ? DeliveryResult.Quarantine("Dropped")
                : throw new IOException($"MLLP receiver {_receiver} hung up on this message at each of its {sent.Attempts} tries, and has answered "
                    + "nothing since it hung up on the one quarantined as Dropped: taken as down, not as refusing this message"),
            _ => throw new IOException($"MLLP receiver {_receiver} did not accept the message after {sent.Attempts} tries ({sent.Code})"),
        };
    }

    /// <inheritdoc />
    public DeliveryResult Classify(IIngestEvent journaled) => Prepare(journaled, out _);

    /// <inheritdoc />
    public void Flush(bool durable)
    {
        // Each message was acknowledged before it counted as delivered.
    }

    /// <inheritdoc />
    public void Dispose() => _sender.DisposeAsync().AsTask().GetAwaiter().GetResult();

    private DeliveryResult Prepare(IIngestEvent journaled, out ReadOnlyMemory<byte>? message)
    {
        message = null;
        if (BundleMapping.Admit(journaled, _filter, out MessageReceived? received) is { } refused)
        {
            return refused;
        }

        if (_options.Rewrites.Count == 0)
        {
            message = CarriageReturns(received!.Raw); // the journaled bytes as they are (no copy), unless ended by LF
            return DeliveryResult.Delivered;
        }

        if (!Hl7Parser.TryParse(received!.Raw, out Hl7Message? parsed, out IReadOnlyList<Hl7Issue> issues) || parsed is null)
        {
            return DeliveryResult.Quarantine(issues.Count > 0 ? issues[0].ToString() : "Unparsable");
        }

        var editor = new Hl7MessageEditor(parsed);
        foreach (Hl7Rewrite rewrite in _options.Rewrites)
        {
            // A message without that segment (PID-2 in an ADT^A20, which has no PID) has nothing there to rewrite: it goes
            // as it is. (Set threw, and the sink restarted on the same message for ever.)
            var path = Hl7Path.Parse(rewrite.Path);
            if (editor.HasSegmentOf(path))
            {
                editor.Set(path, rewrite.Value);
            }
        }

        message = CarriageReturns(editor.ToBytes());
        return DeliveryResult.Delivered;
    }

    // Segments end with CR on the wire, as HL7 requires: a sender's LF or CRLF (which ingest accepts) would reach a strict
    // receiver as one long segment.
    private static ReadOnlyMemory<byte> CarriageReturns(ReadOnlyMemory<byte> message)
    {
        ReadOnlySpan<byte> span = message.Span;
        if (span.IndexOf((byte)'\n') < 0)
        {
            return message;
        }

        var fixedUp = new byte[span.Length];
        int n = 0;
        for (int i = 0; i < span.Length; i++)
        {
            if (span[i] == (byte)'\n')
            {
                if (i == 0 || span[i - 1] != (byte)'\r')
                {
                    fixedUp[n++] = (byte)'\r'; // LF alone; after a CR (CRLF) it is dropped
                }
            }
            else
            {
                fixedUp[n++] = span[i];
            }
        }

        return fixedUp.AsMemory(0, n);
    }
}
