using StreamEngine.Fhir;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.Pipeline.Delivery;

/// <summary>
/// What a sink makes of a settled journaled message, without an output: filtered (by its filter, the opt-out list or
/// its policy, with the reason) or delivered. The engine's sinks ask their target; the commands that read a stopped
/// engine's record (<c>trace</c>) ask this, built from the same settings.
/// </summary>
public sealed class SinkClassifier : IDisposable
{
    private readonly SinkFilter? _filter;
    private readonly BundleMapping? _mapping;

    /// <summary>The classifier of <paramref name="sink"/> under <paramref name="settings"/>.</summary>
    public SinkClassifier(SinkSettings sink, EngineSettings settings, MessageMapper mapper)
    {
        _filter = sink.Filter;
        // A FHIR or file sink maps (its policy and the opt-out list may filter); an onward MLLP sink only filters.
        _mapping = sink.Type is "ndjson" or "fhir" ? new BundleMapping(mapper, sink.Filter, sink.Policy, OptOutFor(sink, settings)) : null;
    }

    /// <summary>The national data opt-out applies to secondary-use sinks only; direct care is unaffected.</summary>
    public static StreamEngine.Policy.OptOutList? OptOutFor(SinkSettings sink, EngineSettings settings) =>
        sink.Purpose == SinkPurpose.SecondaryUse ? settings.OptOut : null;

    /// <summary>The outcome of a settled message at this sink: delivered or filtered (with its reason).</summary>
    public DeliveryResult Classify(IIngestEvent journaled) =>
        _mapping?.Prepare(journaled, out _) ?? BundleMapping.Admit(journaled, _filter, out _) ?? DeliveryResult.Delivered;

    /// <inheritdoc />
    public void Dispose() => _mapping?.Dispose();
}
