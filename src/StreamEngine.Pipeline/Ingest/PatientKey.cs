using System.Security.Cryptography;
using System.Text;
using StreamEngine.Fhir;
using StreamEngine.Hl7v2;

namespace StreamEngine.Pipeline.Ingest;

/// <summary>
/// The key that orders a patient's messages: the Trust MRN (first PID-3 repetition of type MR, else the first local
/// identifier), stable across NHS number tracing; else the NHS number; else the visit number (PV1-19). Kept only as
/// a keyed hash (<see cref="PatientKeyHasher"/>), never in clear outside the payload.
/// </summary>
public static class PatientKey
{
    /// <summary>The key of a message, e.g. <c>mrn:123</c>, or null when it names no patient.</summary>
    public static string? Of(Hl7Message message)
    {
        if (message.FindSegment("PID") is { } pid)
        {
            string? firstLocal = null;
            string? nhs = null;
            Hl7Value pid3 = pid.Field(3);
            for (int r = 1; r <= pid3.RepetitionCount; r++)
            {
                Hl7Value cx = pid3.Repetition(r);
                string value = cx.Component(1).ToString().Trim();
                if (value.Length == 0)
                {
                    continue;
                }

                string type = cx.Component(5).ToString();
                string authority = cx.Component(4).Subcomponent(1).ToString();
                if (type == "NH" || authority.Equals("NHS", StringComparison.OrdinalIgnoreCase))
                {
                    nhs ??= NhsNumber.Normalise(value);
                    continue;
                }

                if (type == "MR")
                {
                    return "mrn:" + value;
                }

                firstLocal ??= value;
            }

            if (firstLocal is not null)
            {
                return "mrn:" + firstLocal;
            }

            if (nhs is not null)
            {
                return "nhs:" + nhs;
            }
        }

        if (message.FindSegment("PV1") is { } pv1 && pv1.Field(19).Component(1).ToString().Trim() is { Length: > 0 } visit)
        {
            return "visit:" + visit;
        }

        return null;
    }

    /// <summary>The keys of the patient a merge (MRG-1) retires, or null.</summary>
    public static string? PriorOf(Hl7Message message)
    {
        if (message.FindSegment("MRG") is not { } mrg)
        {
            return null;
        }

        Hl7Value mrg1 = mrg.Field(1);
        for (int r = 1; r <= mrg1.RepetitionCount; r++)
        {
            string value = mrg1.Repetition(r).Component(1).ToString().Trim();
            if (value.Length > 0)
            {
                return "mrn:" + value;
            }
        }

        return null;
    }
}

/// <summary>The data directory's patient key is not the journal's, or its fingerprint could not be checked: the engine does not start.</summary>
public sealed class PatientKeyException(string message) : Exception(message);

/// <summary>
/// Keyed hash (HMAC-SHA256, first 16 bytes as hex) of a patient key. The key is 32 random bytes in
/// <c>{dataDirectory}/keys/patient-key.hmac</c>, made on first start: without it a hash of an MRN or NHS number
/// cannot be reversed by trying every value.
/// </summary>
public sealed class PatientKeyHasher
{
    private readonly byte[] _key;

    // One keyed HMAC per thread, reset by each use: the one-shot HMACSHA256.HashData sets OpenSSL's MAC up from the
    // key every time, which cost more than the hash itself (perf: ~2.5% of the engine at 64 connections).
    private readonly ThreadLocal<IncrementalHash> _hmac;

    /// <summary>A hasher with this key.</summary>
    public PatientKeyHasher(byte[] key)
    {
        _key = key;
        _hmac = new ThreadLocal<IncrementalHash>(() => IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _key));
    }

    /// <summary>
    /// The hasher of the journal the index sits beside, with the data directory's key, made (and its fingerprint
    /// recorded) on the first start. The journal's patient keys were made with one key, so another is refused: its
    /// hashes would put a patient's later messages apart from the earlier ones, which then lose their order and run
    /// past a quarantined message. That is a data directory whose key is not the one whose fingerprint the index
    /// records (a standby host taking over a PostgreSQL journal with a key of its own, a key file replaced), or one
    /// with no key on a journal that recorded one (a standby's fresh data directory, a container volume that did not
    /// persist): the key file must be copied from the data directory that wrote the journal. The fingerprint, never
    /// the key, is in the index's database (<c>index.db</c>, or the PostgreSQL database).
    /// </summary>
    /// <exception cref="PatientKeyException">The key is not the journal's, or its fingerprint could not be read or recorded.</exception>
    public static PatientKeyHasher ForJournal(string dataDirectory, StreamEngine.Pipeline.Index.IMessageIndex index)
    {
        string file = KeyFile(dataDirectory);
        try
        {
            // The tables first: a failure to read the fingerprint is then a failure (a database down), never taken for none
            // recorded, which would make a new key in a data directory that has none.
            index.InitializeAsync().GetAwaiter().GetResult();
            string? recorded = index.PatientKeyFingerprintAsync(null).GetAwaiter().GetResult();
            if (!File.Exists(file))
            {
                if (recorded is not null)
                {
                    throw new PatientKeyException($"The data directory '{Path.GetFullPath(dataDirectory)}' has no patient key (keys/patient-key.hmac), but this "
                        + "journal's messages were keyed with one (its fingerprint is recorded with the message index): copy keys/patient-key.hmac from the data "
                        + "directory of the engine that wrote this journal; a new key would put each patient's later messages apart from the earlier ones");
                }

                SecretFile.Create(file, RandomNumberGenerator.GetBytes(32));
            }

            PatientKeyHasher hasher = Read(file);
            string fingerprint = hasher.Fingerprint();
            recorded ??= index.PatientKeyFingerprintAsync(fingerprint).GetAwaiter().GetResult();
            if (recorded != fingerprint)
            {
                throw new PatientKeyException($"The patient key in the data directory '{Path.GetFullPath(dataDirectory)}' (keys/patient-key.hmac) is not the one "
                    + "this journal's messages were keyed with (another fingerprint is recorded with the message index): copy keys/patient-key.hmac from the "
                    + "data directory of the engine that wrote this journal; another key would put each patient's later messages apart from the earlier ones");
            }

            return hasher;
        }
        catch (System.Data.Common.DbException e)
        {
            throw new PatientKeyException($"The patient key's fingerprint could not be read or recorded in the message index ({e.GetType().Name}: {e.Message})");
        }
    }

    /// <summary>
    /// The hasher of a data directory's existing key, or null when it has none or (given the index) its key is not the
    /// one whose fingerprint the index records (nothing is created).
    /// </summary>
    public static PatientKeyHasher? Existing(string dataDirectory, StreamEngine.Pipeline.Index.IMessageIndex? index = null)
    {
        if (!File.Exists(KeyFile(dataDirectory)))
        {
            return null;
        }

        PatientKeyHasher hasher = Read(KeyFile(dataDirectory));
        return index?.PatientKeyFingerprintAsync(null).GetAwaiter().GetResult() is { } recorded && recorded != hasher.Fingerprint() ? null : hasher;
    }

    // Names the key without revealing it: a keyed hash of a fixed text.
    private string Fingerprint() => Convert.ToHexStringLower(HMACSHA256.HashData(_key, "streamengine patient-key fingerprint"u8)[..16]);

    private static string KeyFile(string dataDirectory) => Path.Combine(Path.GetFullPath(dataDirectory), "keys", "patient-key.hmac");

    private static PatientKeyHasher Read(string file)
    {
        byte[] key = File.ReadAllBytes(file);
        if (key.Length < 16)
        {
            throw new InvalidOperationException($"The patient key file '{file}' is too short (at least 16 bytes).");
        }

        return new PatientKeyHasher(key);
    }

    /// <summary>The hash of a key, or the empty string for none.</summary>
    public string Hash(string? patientKey)
    {
        if (string.IsNullOrEmpty(patientKey))
        {
            return string.Empty;
        }

        // Per message on the ingest path: the key's bytes go on the stack, the hex string is the one allocation.
        int max = Encoding.UTF8.GetMaxByteCount(patientKey.Length);
        Span<byte> utf8 = max <= 512 ? stackalloc byte[max] : new byte[max];
        int length = Encoding.UTF8.GetBytes(patientKey, utf8);
        Span<byte> mac = stackalloc byte[32];
        IncrementalHash hmac = _hmac.Value!;
        hmac.AppendData(utf8[..length]);
        hmac.GetHashAndReset(mac);
        return Convert.ToHexStringLower(mac[..16]);
    }
}
