namespace StreamEngine.Fhir;

/// <summary>Why a mapping could not be done as asked. Codes are stable: quarantine reasons and tests use them.</summary>
public enum MappingIssueCode
{
    /// <summary>No mapper for this MSH-9.1/9.2: a quarantine reason, not a crash.</summary>
    UnsupportedMessageType = 1,

    /// <summary>PID is missing.</summary>
    MissingPid = 2,

    /// <summary>No PID-3 identifier that a Patient can be keyed on.</summary>
    MissingPatientIdentifier = 3,

    /// <summary>An NHS-number repetition that fails the Modulus 11 check; kept as a plain identifier.</summary>
    InvalidNhsNumber = 4,

    /// <summary>A date/time that does not follow the TS/DTM format; left out.</summary>
    InvalidDateTime = 5,

    /// <summary>An unknown PID-8 administrative sex code; left out.</summary>
    UnknownGender = 6,

    /// <summary>More than one NHS number in PID-3; only the first is emitted as the NHS number.</summary>
    DuplicateNhsNumber = 7,

    /// <summary>A PID-32 tracing status that is not NSTS01..NSTS08 (or 01..08); left out.</summary>
    UnknownVerificationStatus = 8,

    /// <summary>A value FHIR requires is missing (e.g. OBX-3, AL1-3); the element is left out or marked unknown.</summary>
    MissingRequiredValue = 9,

    /// <summary>An NM value that is not a number; kept as a string.</summary>
    InvalidNumber = 10,

    /// <summary>A Z-segment field that does not fit its rule's value type; left out.</summary>
    InvalidZSegmentValue = 11,

    /// <summary>PID-32 and a Z-segment field give different tracing statuses; PID-32 is kept.</summary>
    ConflictingVerificationStatus = 12,

    /// <summary>A segment the message needs (e.g. OBR, SCH, TXA, RXA, MRG) is missing.</summary>
    MissingSegment = 13,

    /// <summary>MSH-10 is empty: the message has no identity, so no entry could be idempotent.</summary>
    MissingControlId = 14,

    /// <summary>Two records of the message have the same identity (e.g. two OBR with one filler number): the second is left out.</summary>
    DuplicateIdentity = 15,

    /// <summary>PV1 without a visit number (PV1-19): no Encounter, since it could not be upserted.</summary>
    MissingVisitNumber = 16,

    /// <summary>A duration whose unit is not a time unit the mapping knows (e.g. SCH-10): the duration is left out.</summary>
    UnknownUnit = 17,

    /// <summary>
    /// The Trust profile names an MRN assigning authority (<c>mrn.assigningAuthority</c>) and no identifier of the MRN
    /// type carries it: the Patient is keyed on the first identifier of that type, else the first local one. A sender
    /// spelling the authority differently keys its patients apart from the Trust's.
    /// </summary>
    MrnAuthorityNotFound = 18,
}

/// <summary>A coded mapping problem with its position. Never carries message content.</summary>
public readonly record struct MappingIssue(MappingIssueCode Code, string Segment, int Field, bool IsError)
{
    /// <inheritdoc />
    public override string ToString() => $"{Code}@{Segment}-{Field}";
}
