using System.Collections.Frozen;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace StreamEngine.Policy;

/// <summary>
/// FHIR Consent resources (one JSON file each, <c>*.json</c>) as the source of the opt-out: an active Consent whose
/// provision is <c>deny</c> puts its patient's NHS number (<c>Consent.patient.identifier</c> in the NHS number
/// system) on the list. A file that is not a Consent, or a deny without an NHS number, makes the folder invalid (so a
/// mistake never shortens the list silently).
/// </summary>
public static class ConsentFolder
{
    /// <summary>The NHS numbers of patients who dissent.</summary>
    public static FrozenSet<string> Read(string folder)
    {
        var numbers = new HashSet<string>(StringComparer.Ordinal);
        var parser = new FhirJsonDeserializer();
        string[] files = [.. Directory.GetFiles(folder, "*.json").Order(StringComparer.Ordinal)];
        for (int i = 0; i < files.Length; i++)
        {
            // Named by position, not file name: a file may be named after the patient (an NHS number).
            string file = files[i];
            string which = $"file {i + 1} of {files.Length} (*.json in name order)";
            Consent consent;
            try
            {
                consent = parser.Deserialize<Consent>(File.ReadAllText(file));
            }
            catch (Exception e) when (e is DeserializationFailedException or InvalidCastException or System.Text.Json.JsonException or FormatException)
            {
                throw new InvalidDataException($"{which} is not a FHIR Consent");
            }

            if (consent.Status != Consent.ConsentState.Active || consent.Provision?.Type != Consent.ConsentProvisionType.Deny)
            {
                continue;
            }

            string? number = consent.Patient?.Identifier is { System: StreamEngine.Fhir.NhsNumber.System, Value: { } value }
                ? StreamEngine.Fhir.NhsNumber.Normalise(value)
                : null;
            numbers.Add(number ?? throw new InvalidDataException($"{which} denies without a valid NHS number in patient.identifier"));
        }

        return numbers.ToFrozenSet(StringComparer.Ordinal);
    }

    /// <summary>Changes when a file is added, removed or rewritten (with the folder's own time).</summary>
    public static long Signature(string folder)
    {
        long signature = 17;
        foreach (FileInfo file in new DirectoryInfo(folder).GetFiles("*.json"))
        {
            signature = (signature * 31) ^ file.Length ^ file.LastWriteTimeUtc.Ticks ^ file.Name.GetHashCode(StringComparison.Ordinal);
        }

        return signature;
    }
}
