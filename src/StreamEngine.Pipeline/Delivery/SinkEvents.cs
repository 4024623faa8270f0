namespace StreamEngine.Pipeline.Delivery;

/// <summary>A sink's persisted progress: every sequence number up to and including this one is done.</summary>
public sealed record WatermarkAdvanced(long SequenceNr);
