using System.Globalization;
using Hl7.Fhir.Model;
using StreamEngine.Fhir;
using StreamEngine.Hl7v2;
using StreamEngine.Pipeline.Ingest;
using StreamEngine.Sinks.Ndjson;

namespace StreamEngine.Pipeline.Delivery;

/// <summary>
/// Maps each journaled message to a FHIR transaction Bundle and appends it, compact, as one line of
/// <c>{path}/{sink id}.{listener id}.ndjson</c>. Each line's <c>meta.source</c> is its delivery id, so a restart
/// resumes after the last complete line. Messages that cannot be mapped are copied, raw, to the sink's quarantine
/// folder with their coded reason.
/// </summary>
public sealed class NdjsonTarget : IDeliveryTarget
{
    private readonly NdjsonFileSink _file;
    private readonly string _streamId;
    private readonly string _quarantineDirectory;
    private readonly MessageMapper _mapper;

    /// <summary>Creates the target.</summary>
    public NdjsonTarget(string filePath, string streamId, string quarantineDirectory, MessageMapper mapper)
    {
        _file = new NdjsonFileSink(filePath);
        _streamId = streamId;
        _quarantineDirectory = quarantineDirectory;
        _mapper = mapper;
    }

    /// <summary>The most recent quarantine reason (a code), for tests and status.</summary>
    public string? LastQuarantineReason { get; private set; }

    /// <inheritdoc />
    public long Open() => DeliveryId.SequenceOf(_file.Open(), _streamId);

    /// <inheritdoc />
    public DeliveryOutcome Deliver(long sequenceNr, IIngestEvent journaled)
    {
        if (journaled is not MessageReceived received)
        {
            return DeliveryOutcome.Filtered;
        }

        byte[] line;
        try
        {
            DeliveryOutcome? early = Map(sequenceNr, received, out line);
            if (early is { } outcome)
            {
                return outcome;
            }
        }
        catch (Exception e) when (e is not IOException and not OutOfMemoryException)
        {
            // A mapper bug must not stop the sink for good: the message is set aside with the exception type (never
            // its message text, which could quote content) and the sink moves on.
            return Quarantine(sequenceNr, received, "MappingException:" + e.GetType().Name);
        }

        _file.Append(line);
        return DeliveryOutcome.Delivered;
    }

    private DeliveryOutcome? Map(long sequenceNr, MessageReceived received, out byte[] line)
    {
        line = [];
        if (!Hl7Parser.TryParse(received.Raw, out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues) || message is null)
        {
            return Quarantine(sequenceNr, received, issues.Count > 0 ? issues[0].ToString() : "Unparsable");
        }

        if (!_mapper.Supports(message))
        {
            return DeliveryOutcome.Filtered;
        }

        MappingResult result = _mapper.Map(message);
        if (result.Bundle is not { } bundle)
        {
            MappingIssue first = result.Issues.FirstOrDefault(i => i.IsError);
            return Quarantine(sequenceNr, received, first.ToString());
        }

        bundle.Meta = new Meta { Source = DeliveryId.Format(_streamId, sequenceNr) };
        line = FhirJson.Serialize(bundle);
        return null;
    }

    /// <inheritdoc />
    public void Flush(bool durable) => _file.Flush(durable);

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();

    private DeliveryOutcome Quarantine(long sequenceNr, MessageReceived received, string reason)
    {
        Directory.CreateDirectory(_quarantineDirectory);
        string name = sequenceNr.ToString("D12", CultureInfo.InvariantCulture);
        File.WriteAllBytes(Path.Combine(_quarantineDirectory, name + ".hl7"), received.Raw.ToArray());
        File.WriteAllText(Path.Combine(_quarantineDirectory, name + ".reason"), reason + "\n");
        LastQuarantineReason = reason;
        return DeliveryOutcome.Quarantined;
    }
}
