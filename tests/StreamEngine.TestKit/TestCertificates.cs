using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace StreamEngine.TestKit;

/// <summary>A throw-away certificate authority for TLS tests: server and client certificates it signs, as PEM files.</summary>
public sealed class TestCertificates : IDisposable
{
    private readonly X509Certificate2 _ca;

    public TestCertificates(string folder)
    {
        Folder = folder;
        Directory.CreateDirectory(folder);
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=StreamEngine Test CA", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        _ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        CaFile = Path.Combine(folder, "ca.pem");
        File.WriteAllText(CaFile, _ca.ExportCertificatePem());
    }

    public string Folder { get; }

    public string CaFile { get; }

    public X509Certificate2 Ca => _ca;

    /// <summary>A server certificate for localhost / 127.0.0.1, written as name.pem and name.key; returns it.</summary>
    public X509Certificate2 Server(string name, string subject = "CN=localhost") =>
        Issue(name, subject, "1.3.6.1.5.5.7.3.1", server: true);

    /// <summary>A client certificate, written as name.pem and name.key; returns it (with its key).</summary>
    public X509Certificate2 Client(string name, string subject) => Issue(name, subject, "1.3.6.1.5.5.7.3.2", server: false);

    /// <summary>
    /// A server certificate issued by an intermediate CA (itself issued by the root); name.pem holds the leaf then the
    /// intermediate, as CAs deliver full chains. Returns both.
    /// </summary>
    public (X509Certificate2 Leaf, X509Certificate2 Intermediate) ServerWithChain(string name)
    {
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=StreamEngine Test Intermediate", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using X509Certificate2 issued = caRequest.Create(_ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddMonths(6), RandomNumberGenerator.GetBytes(12));
        using X509Certificate2 intermediate = issued.CopyWithPrivateKey(caKey);

        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using X509Certificate2 leaf = request.Create(intermediate, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddMonths(3), RandomNumberGenerator.GetBytes(12));
        File.WriteAllText(CertFile(name), leaf.ExportCertificatePem() + "\n" + intermediate.ExportCertificatePem());
        File.WriteAllText(KeyFile(name), key.ExportPkcs8PrivateKeyPem());
        return (X509CertificateLoader.LoadCertificate(leaf.RawData), X509CertificateLoader.LoadCertificate(intermediate.RawData));
    }

    public string CertFile(string name) => Path.Combine(Folder, name + ".pem");

    public string KeyFile(string name) => Path.Combine(Folder, name + ".key");

    private X509Certificate2 Issue(string name, string subject, string usage, bool server)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName("localhost");
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
        }

        byte[] serial = RandomNumberGenerator.GetBytes(12);
        using X509Certificate2 issued = request.Create(_ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddMonths(6), serial);
        X509Certificate2 withKey = issued.CopyWithPrivateKey(key);
        File.WriteAllText(CertFile(name), withKey.ExportCertificatePem());
        File.WriteAllText(KeyFile(name), key.ExportPkcs8PrivateKeyPem());
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>Validates a server certificate against this CA, name included (for clients' callbacks).</summary>
    public bool Trusts(X509Certificate? certificate, System.Net.Security.SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }

    public void Dispose() => _ca.Dispose();
}
