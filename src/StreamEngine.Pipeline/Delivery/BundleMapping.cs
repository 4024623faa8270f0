using Hl7.Fhir.Model;
using StreamEngine.Fhir;
using StreamEngine.Hl7v2;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.Pipeline.Delivery;

/// <summary>
/// A journaled event as the transaction Bundle a FHIR-producing sink delivers, or the reason it cannot be: rejected
/// frames, unparsable messages and mapping errors are quarantined with their code, and a mapper bug is quarantined by
/// its exception type (never its text, which could quote content), so one bad message never stops a sink.
/// </summary>
public sealed class BundleMapping(MessageMapper mapper, SinkFilter? filter = null, StreamEngine.Policy.MinimisationPolicy? policy = null,
    StreamEngine.Policy.OptOutList? optOut = null) : IDisposable
{
    private readonly StreamEngine.Policy.BundleMinimiser? _minimiser = policy is null ? null : new StreamEngine.Policy.BundleMinimiser(policy);

    /// <summary>Whether a minimisation policy applies (a minimised output carries no message identity to link by).</summary>
    public bool Minimised => _minimiser is not null;

    /// <inheritdoc />
    public void Dispose() => _minimiser?.Dispose();

    /// <summary>
    /// What every sink does before its own work: a frame with no usable MSH is quarantined (kept aside, raw, not lost),
    /// anything else that is not a message, or that the sink's filter does not take, is filtered. Null (with the
    /// message) when the sink takes it.
    /// </summary>
    public static DeliveryResult? Admit(IIngestEvent journaled, SinkFilter? filter, out MessageReceived? received)
    {
        received = journaled as MessageReceived;
        if (journaled is FrameRejected rejected)
        {
            return DeliveryResult.Quarantine("Rejected:" + rejected.Reason);
        }

        return received is null || (filter is not null && !filter.Accepts(received)) ? DeliveryResult.Filtered : null;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<MappingIssue, string> WarningTexts = new();

    /// <summary>The mapping's warnings, each code and position once, in the order found: "MrnAuthorityNotFound@PID-3, ...".</summary>
    public static string WarningsText(IReadOnlyList<MappingIssue> issues) =>
        issues.Count == 1 ? WarningText(issues[0]) : string.Join(", ", issues.Select(WarningText).Distinct());

    /// <summary>
    /// A warning's text (<c>Code@SEG-n</c>), made once: a feed whose every message has the same warning allocates nothing
    /// for it. Bounded: codes, and the positions the mappers name (a Z segment's id included); past that, made each time.
    /// </summary>
    public static string WarningText(MappingIssue issue) =>
        WarningTexts.TryGetValue(issue, out string? text) ? text
        : WarningTexts.Count < 4096 ? WarningTexts.GetOrAdd(issue, i => i.ToString())
        : issue.ToString();

    /// <summary>Maps one event with this sink's filter, opt-out list and policy; <paramref name="bundle"/> is set when Delivered.</summary>
    public DeliveryResult Prepare(IIngestEvent journaled, out Bundle? bundle)
    {
        bundle = null;
        if (Admit(journaled, filter, out MessageReceived? received) is { } refused)
        {
            return refused;
        }

        try
        {
            if (!Hl7Parser.TryParse(received!.Raw, out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues) || message is null)
            {
                return DeliveryResult.Quarantine(issues.Count > 0 ? issues[0].ToString() : "Unparsable");
            }

            // An unsupported type is quarantined (coded UnsupportedMessageType), never dropped: an operator sees it.
            MappingResult result = mapper.Map(message, received.ReceivedAt);
            if (result.Bundle is null)
            {
                return DeliveryResult.Quarantine(result.Issues.FirstOrDefault(i => i.IsError).ToString());
            }

            if (optOut is not null && OptOutReason(result.Bundle, message, optOut) is { } withheld)
            {
                return DeliveryResult.FilteredBecause(withheld); // never to a secondary-use sink: counted and audited, no number logged
            }

            if (_minimiser is not null && !_minimiser.Apply(result.Bundle))
            {
                return DeliveryResult.Filtered; // nothing in it this sink may see
            }

            bundle = result.Bundle;
            return result.Issues.Count == 0 ? DeliveryResult.Delivered : DeliveryResult.DeliveredWith(result.Issues); // warnings: errors map to nothing
        }
        catch (Exception e) when (e is not IOException and not OutOfMemoryException)
        {
            // A mapper bug must not stop the sink for good: the message is set aside with the exception type (never
            // its message text, which could quote content) and the sink moves on.
            return DeliveryResult.Quarantine("MappingException:" + e.GetType().Name);
        }
    }

    // Fails closed: a message whose patient has no NHS number cannot be checked against the list, so a secondary-use
    // sink does not get it. Any identifier holding a valid NHS number counts, whatever field it came in.
    private static string? OptOutReason(Bundle bundle, Hl7Message message, StreamEngine.Policy.OptOutList optOut)
    {
        // A merge is both patients' message (their lanes hold both): the retired record's NHS number in MRG-1, which the
        // mapping leaves off the retired Patient (it follows the person), is checked too.
        foreach (Hl7Segment mrg in message.Segments("MRG"))
        {
            Hl7Value prior = mrg.Field(1);
            for (int r = 1; r <= prior.RepetitionCount; r++)
            {
                if (NhsNumber.Normalise(prior.Repetition(r).Component(1).ToString()) is { } number && optOut.Contains(number))
                {
                    return "NationalDataOptOut";
                }
            }
        }

        bool checkedOne = false;
        foreach (Bundle.EntryComponent entry in bundle.Entry)
        {
            if (entry.Resource is Patient patient)
            {
                foreach (Identifier id in patient.Identifier)
                {
                    if (id.Value is { } value && NhsNumber.Normalise(value) is { } number)
                    {
                        checkedOne = true;
                        if (optOut.Contains(number))
                        {
                            return "NationalDataOptOut";
                        }
                    }
                }
            }
        }

        return checkedOne ? null : "OptOutUncheckable:NoNhsNumber";
    }
}
