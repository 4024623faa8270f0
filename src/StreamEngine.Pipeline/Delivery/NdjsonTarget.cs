using Hl7.Fhir.Model;
using StreamEngine.Fhir;
using StreamEngine.Pipeline.Ingest;
using StreamEngine.Sinks.Ndjson;
using Task = System.Threading.Tasks.Task;

namespace StreamEngine.Pipeline.Delivery;

/// <summary>
/// Maps each journaled message to a FHIR transaction Bundle and appends it, compact, as one line of an NDJSON file.
/// Each line's <c>meta.source</c> is its delivery id (<see cref="DeliveryId"/>), so a restart resumes after the last
/// complete line. A replay writes to a file of its own, and its id is part of each line's delivery id.
/// </summary>
public sealed class NdjsonTarget : IDeliveryTarget
{
    private readonly NdjsonFileSink? _file;
    private readonly RotatingNdjsonFile? _rotating;
    private readonly string _streamId;
    private readonly string? _replayId;
    private readonly BundleMapping _mapping;

    /// <summary>Creates the target; <paramref name="replayId"/> is set for a replay's output.</summary>
    public NdjsonTarget(string filePath, string streamId, MessageMapper mapper, string? replayId = null, SinkFilter? filter = null,
        StreamEngine.Policy.MinimisationPolicy? policy = null, StreamEngine.Policy.OptOutList? optOut = null, NdjsonRotation? rotation = null)
    {
        _mapping = new BundleMapping(mapper, filter, policy, optOut);
        if (rotation is not null && replayId is null)
        {
            // <sink>.<listener>.<time>.ndjson files, sorting by time; a replay keeps its own single file.
            _rotating = new RotatingNdjsonFile(Path.GetDirectoryName(Path.GetFullPath(filePath))!, Path.GetFileNameWithoutExtension(filePath), rotation);
        }
        else
        {
            _file = new NdjsonFileSink(filePath);
        }
        _streamId = streamId;
        _replayId = replayId;
    }

    /// <inheritdoc />
    public IReadOnlySet<long> Open(long position)
    {
        IReadOnlyList<string> sources;
        if (_rotating is not null)
        {
            sources = _rotating.Open(position);
        }
        else
        {
            _file!.Open();
            sources = _file.SourcesFrom(position);
        }

        return sources.Select(id => DeliveryId.SequenceOf(id, _streamId)).Where(seq => seq > 0).ToHashSet();
    }

    /// <inheritdoc />
    public long Position => _rotating?.Position ?? _file!.Position;

    /// <inheritdoc />
    /// <remarks>Preparing a line is mapping and serialising only: a lane takes up to 32 ready messages at once.</remarks>
    public int LaneBatch => 32;

    /// <inheritdoc />
    public bool PreparesAhead => true;

    /// <inheritdoc />
    public Task<PreparedDelivery> PrepareAsync(long sequenceNr, IIngestEvent journaled, CancellationToken cancellationToken)
    {
        DeliveryResult result = _mapping.Prepare(journaled, out Bundle? bundle);
        byte[] line = [];
        if (bundle is not null)
        {
            bundle.Meta = new Meta { Source = DeliveryId.Format(_streamId, sequenceNr, _replayId) };
            line = FhirJson.Serialize(bundle);
        }

        return Task.FromResult(new PreparedDelivery(sequenceNr, result, line));
    }

    /// <inheritdoc />
    public DeliveryResult Commit(in PreparedDelivery prepared)
    {
        if (prepared.Result.Outcome == DeliveryOutcome.Delivered)
        {
            ReadOnlySpan<byte> line = prepared.Payload.Span;
            if (_rotating is not null)
            {
                _rotating.Append(line);
            }
            else
            {
                _file!.Append(line);
            }
        }

        return prepared.Result;
    }

    /// <inheritdoc />
    public DeliveryResult Classify(IIngestEvent journaled) => _mapping.Prepare(journaled, out _);

    /// <inheritdoc />
    public void Flush(bool durable)
    {
        if (_rotating is not null)
        {
            _rotating.Flush(durable);
        }
        else
        {
            _file!.Flush(durable);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _rotating?.Dispose();
        _file?.Dispose();
        _mapping.Dispose();
    }
}
