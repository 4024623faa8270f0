using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace StreamEngine.Diagnostics;

/// <summary>
/// The engine's one ActivitySource and one Meter. Core code records here; only the Host wires an exporter.
/// Tags carry ids of listeners, sinks and codes, never message content.
/// </summary>
public static class StreamEngineTelemetry
{
    /// <summary>Name of the ActivitySource and Meter.</summary>
    public const string Name = "StreamEngine";

    /// <summary>Traces.</summary>
    public static ActivitySource ActivitySource { get; } = new(Name);

    /// <summary>Metrics.</summary>
    public static Meter Meter { get; } = new(Name);

    /// <summary>MLLP frames received, tagged by listener.</summary>
    public static Counter<long> FramesReceived { get; } = Meter.CreateCounter<long>("streamengine.mllp.frames_received");

    /// <summary>Bytes outside any MLLP frame, discarded, tagged by listener.</summary>
    public static Counter<long> BytesDiscarded { get; } = Meter.CreateCounter<long>("streamengine.mllp.bytes_discarded");

    /// <summary>Connections closed on accept, tagged by listener and reason (MaxConnections, NotAllowed).</summary>
    public static Counter<long> ConnectionsRefused { get; } = Meter.CreateCounter<long>("streamengine.mllp.connections_refused");

    /// <summary>Connections closed by the engine, tagged by listener and reason (FrameTooLarge, FrameTimeout, IdleTimeout).</summary>
    public static Counter<long> ConnectionsClosed { get; } = Meter.CreateCounter<long>("streamengine.mllp.connections_closed");

    /// <summary>Acknowledgments sent, tagged by listener and code (AA, AR, CA...).</summary>
    public static Counter<long> AcksSent { get; } = Meter.CreateCounter<long>("streamengine.mllp.acks_sent");

    /// <summary>Events written to the ingest journal, tagged by listener.</summary>
    public static Counter<long> Journaled { get; } = Meter.CreateCounter<long>("streamengine.ingest.journaled");

    /// <summary>Resends recognised by dedupe (same MSH-3/4/10, same content): answered again, not journaled again.</summary>
    public static Counter<long> Duplicates { get; } = Meter.CreateCounter<long>("streamengine.ingest.duplicates");

    /// <summary>Messages reusing a control id (same MSH-3/4/10) with different content: journaled as new.</summary>
    public static Counter<long> ControlIdReuses { get; } = Meter.CreateCounter<long>("streamengine.ingest.control_id_reuses");

    /// <summary>Messages a sink delivered, filtered or quarantined, tagged by sink and outcome.</summary>
    public static Counter<long> SinkOutcomes { get; } = Meter.CreateCounter<long>("streamengine.sink.outcomes");

    /// <summary>Journal commits (one transaction, one fsync in <c>fsync</c> mode), tagged by outcome (ok, failed).</summary>
    public static Counter<long> JournalCommits { get; } = Meter.CreateCounter<long>("streamengine.journal.commits");

    /// <summary>Rows in each journal commit: how many writes shared it (group commit).</summary>
    public static Histogram<int> JournalCommitRows { get; } = Meter.CreateHistogram<int>("streamengine.journal.commit_rows");

    /// <summary>Time each journal commit took, inserts and fsync included.</summary>
    public static Histogram<double> JournalCommitSeconds { get; } = Meter.CreateHistogram<double>("streamengine.journal.commit_duration", "s");
}
