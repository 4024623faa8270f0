using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace StreamEngine.Mllp.Tls;

/// <summary>
/// Mutual TLS admission: a client certificate is accepted when its thumbprint (SHA-1 or SHA-256) is on the allow-list,
/// or when it chains to the configured CA bundle and its subject is on the allow-list. Nothing else gets in.
/// </summary>
public sealed class ClientCertificatePolicy
{
    private readonly HashSet<string> _thumbprints = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _subjects = new(StringComparer.OrdinalIgnoreCase);
    private readonly X509Certificate2Collection _roots = [];

    /// <summary>Builds the policy from allow-list entries and an optional PEM CA bundle.</summary>
    public ClientCertificatePolicy(IEnumerable<string> allowed, string? caFile)
    {
        foreach (string entry in allowed)
        {
            string trimmed = entry.Trim();
            string hex = trimmed.Replace(":", string.Empty, StringComparison.Ordinal);
            if (hex.Length is 40 or 64 && hex.All(char.IsAsciiHexDigit))
            {
                _thumbprints.Add(hex);
            }
            else
            {
                _subjects.Add(Normalise(trimmed));
            }
        }

        if (caFile is not null)
        {
            _roots.ImportFromPemFile(caFile);
        }

        if (_subjects.Count > 0 && _roots.Count == 0)
        {
            throw new ArgumentException("A subject in the client allow-list needs a CA file to check the chain against.", nameof(caFile));
        }
    }

    /// <summary>The reason a certificate is refused, or null when it is admitted.</summary>
    public string? Check(X509Certificate? certificate)
    {
        if (certificate is null)
        {
            return "NoClientCertificate";
        }

        using X509Certificate2 cert = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (_thumbprints.Contains(cert.Thumbprint) || _thumbprints.Contains(cert.GetCertHashString(HashAlgorithmName.SHA256)))
        {
            return null;
        }

        if (_subjects.Count == 0 || !_subjects.Contains(Normalise(cert.Subject)))
        {
            return "ClientCertificateNotAllowed";
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2")); // client authentication
        return chain.Build(cert) ? null : "ClientCertificateUntrusted";
    }

    private static string Normalise(string subject) =>
        string.Join(",", subject.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
}
