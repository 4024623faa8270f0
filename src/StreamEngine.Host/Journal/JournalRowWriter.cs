namespace StreamEngine.Host.Journal;

/// <summary>One row of Akka.Persistence.Sql's <c>journal</c> table, serialized and ready to insert.</summary>
/// <param name="PersistenceId">The writing actor's persistence id.</param>
/// <param name="SequenceNr">Its sequence number.</param>
/// <param name="Created">The plugin's <c>created</c> column (ticks, as the plugin writes it).</param>
/// <param name="Message">The serialized payload.</param>
/// <param name="Tags">The tags in the plugin's CSV form (empty when none).</param>
/// <param name="Manifest">The serializer's manifest.</param>
/// <param name="SerializerId">The serializer's identifier.</param>
/// <param name="WriterUuid">The journal instance that wrote the row.</param>
public readonly record struct JournalRowData(
    string PersistenceId, long SequenceNr, long Created, byte[] Message, string Tags, string Manifest, int SerializerId, string WriterUuid);

/// <summary>
/// Inserts groups of journal rows, each group in one transaction (one commit, so one fsync in <c>fsync</c> mode), with
/// one prepared statement held on one connection. Called from a single thread; a failure leaves no row of the group
/// behind, and the next group opens a fresh connection.
/// </summary>
public interface IJournalRowWriter : IDisposable
{
    /// <summary>Inserts the rows in order, in one transaction.</summary>
    void Insert(IReadOnlyList<JournalRowData> rows);
}
