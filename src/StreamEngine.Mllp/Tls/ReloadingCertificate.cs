using System.Security.Cryptography.X509Certificates;

namespace StreamEngine.Mllp.Tls;

/// <summary>
/// A server certificate read from PEM or PFX files and read again when a file changes on disk, so a renewed
/// certificate is used for new connections without a restart; connections already open keep the one they began with.
/// A replacement that cannot be read (half-written, wrong key) is ignored and the previous certificate kept.
/// </summary>
public sealed class ReloadingCertificate
{
    private readonly string _certificateFile;
    private readonly string? _keyFile;
    private readonly string? _passwordFile;
    private readonly Lock _gate = new();
    private X509Certificate2 _current;
    private System.Net.Security.SslStreamCertificateContext _context;
    private (DateTime, DateTime, DateTime) _stamp;

    /// <summary>Loads the certificate; throws when it cannot be read (a start-up configuration error).</summary>
    public ReloadingCertificate(string certificateFile, string? keyFile, string? passwordFile)
    {
        _certificateFile = certificateFile;
        _keyFile = keyFile;
        _passwordFile = passwordFile;
        _stamp = Stamp();
        (_current, _context) = Load();
    }

    /// <summary>Raised (with the exception type) when a changed file could not be read and the old certificate was kept.</summary>
    public event Action<string>? ReloadFailed;

    /// <summary>The certificate to present now: re-read if a file changed since the last call.</summary>
    public X509Certificate2 Current
    {
        get
        {
            Refresh();
            lock (_gate)
            {
                return _current;
            }
        }
    }

    /// <summary>
    /// The certificate with its intermediate CAs (the other certificates of the PEM or PFX file), so that clients that
    /// trust only the root can build the chain. Re-read like <see cref="Current"/>.
    /// </summary>
    public System.Net.Security.SslStreamCertificateContext Context
    {
        get
        {
            Refresh();
            lock (_gate)
            {
                return _context;
            }
        }
    }

    private void Refresh()
    {
        (DateTime, DateTime, DateTime) stamp;
        try
        {
            stamp = Stamp();
        }
        catch (IOException)
        {
            return; // a file being replaced: keep what we have and look again on the next connection
        }

        lock (_gate)
        {
            if (stamp == _stamp)
            {
                return;
            }

            try
            {
                (_current, _context) = Load();
                _stamp = stamp;
            }
            catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                ReloadFailed?.Invoke(e.GetType().Name);
            }
        }
    }

    private (DateTime, DateTime, DateTime) Stamp() => (
        File.GetLastWriteTimeUtc(_certificateFile),
        _keyFile is null ? default : File.GetLastWriteTimeUtc(_keyFile),
        _passwordFile is null ? default : File.GetLastWriteTimeUtc(_passwordFile));

    private (X509Certificate2 Leaf, System.Net.Security.SslStreamCertificateContext Context) Load()
    {
        X509Certificate2 leaf;
        var others = new X509Certificate2Collection();
        if (_certificateFile.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || _certificateFile.EndsWith(".p12", StringComparison.OrdinalIgnoreCase))
        {
            string? password = _passwordFile is null ? null : File.ReadAllText(_passwordFile).TrimEnd('\r', '\n');
            X509Certificate2Collection all = X509CertificateLoader.LoadPkcs12CollectionFromFile(_certificateFile, password);
            leaf = all.FirstOrDefault(c => c.HasPrivateKey) ?? throw new ArgumentException("The PFX holds no certificate with a private key.");
            others.AddRange(all.Where(c => !ReferenceEquals(c, leaf)).ToArray());
        }
        else
        {
            using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(_certificateFile, _keyFile);
            // Re-import so that the key is usable by SslStream on every platform (PEM keys are ephemeral otherwise).
            leaf = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            var all = new X509Certificate2Collection();
            all.ImportFromPemFile(_certificateFile);
            others.AddRange(all.Where(c => c.Thumbprint != leaf.Thumbprint).ToArray());
        }

        return (leaf, System.Net.Security.SslStreamCertificateContext.Create(leaf, others, offline: true));
    }
}
