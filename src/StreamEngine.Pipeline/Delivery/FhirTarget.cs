using Hl7.Fhir.Model;
using StreamEngine.Fhir;
using StreamEngine.Pipeline.Ingest;
using StreamEngine.Sinks.Fhir;
using Task = System.Threading.Tasks.Task;

namespace StreamEngine.Pipeline.Delivery;

/// <summary>
/// Delivers each journaled message's transaction Bundle to a FHIR server (POST to its base URL). Delivery is
/// idempotent by construction (conditional PUTs and creates, deterministic ids), so after a crash the sink simply sends
/// again what its watermark had not recorded. A 2xx is delivered; a 4xx other than 408/429 is quarantined with the
/// server's issue codes and paths; anything a retry may cure is retried, then thrown, and the sink restarts with
/// backoff from its watermark (it never skips a message: order per patient holds).
/// </summary>
public sealed class FhirTarget : IDeliveryTarget
{
    private readonly FhirRestClient _client;
    private readonly string _streamId;
    private readonly string? _replayId;
    private readonly bool _batch;
    private readonly BundleMapping _mapping;

    /// <summary>Creates the target; <paramref name="replayId"/> is set for a replay (its id goes in X-Request-ID).</summary>
    public FhirTarget(FhirRestClient client, FhirSinkOptions options, string streamId, MessageMapper mapper, string? replayId = null, SinkFilter? filter = null,
        StreamEngine.Policy.MinimisationPolicy? policy = null, StreamEngine.Policy.OptOutList? optOut = null)
    {
        _mapping = new BundleMapping(mapper, filter, policy, optOut);
        _client = client;
        _streamId = streamId;
        _replayId = replayId;
        _batch = options.Batch;
    }

    /// <inheritdoc />
    public IReadOnlySet<long> Open(long position) => new HashSet<long>(); // a server keeps no position: resends are upserts

    /// <inheritdoc />
    public long Position => 0;

    /// <inheritdoc />
    public bool RecordsEachDelivery => true;

    /// <inheritdoc />
    public async Task<PreparedDelivery> PrepareAsync(long sequenceNr, IIngestEvent journaled, CancellationToken cancellationToken)
    {
        DeliveryResult result = _mapping.Prepare(journaled, out Bundle? bundle);
        if (bundle is null)
        {
            return new PreparedDelivery(sequenceNr, result);
        }

        if (_batch)
        {
            bundle.Type = Bundle.BundleType.Batch;
        }

        string deliveryId = DeliveryId.Format(_streamId, sequenceNr, _replayId);
        byte[] json = FhirJson.Serialize(bundle);

        // Posted from the lane: as many requests in flight as the sink has lanes (maxConcurrentRequests), one per patient.
        // MSH-10 as the correlation id only for a full-record sink: a minimised one gets no message identity to link by.
        string? correlation = _mapping.Minimised ? null : bundle.Identifier?.Value;
        FhirPostResult posted = await _client.PostAsync(json, deliveryId, correlation, cancellationToken).ConfigureAwait(false);
        return new PreparedDelivery(sequenceNr, posted.Delivered ? result : DeliveryResult.Quarantine(posted.Reason ?? "Rejected"));
    }

    /// <inheritdoc />
    public DeliveryResult Commit(in PreparedDelivery prepared) => prepared.Result; // the server has it already

    /// <inheritdoc />
    public DeliveryResult Classify(IIngestEvent journaled) => _mapping.Prepare(journaled, out _);

    /// <inheritdoc />
    public void Flush(bool durable)
    {
        // Nothing buffered: the server answered each bundle before it counted as delivered.
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // The client belongs to the sink (shared by its live output and its replays) and is disposed with the engine.
        _mapping.Dispose();
    }
}
