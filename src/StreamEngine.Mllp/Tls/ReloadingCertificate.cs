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
    private (DateTime, DateTime, DateTime) _stamp;

    /// <summary>Loads the certificate; throws when it cannot be read (a start-up configuration error).</summary>
    public ReloadingCertificate(string certificateFile, string? keyFile, string? passwordFile)
    {
        _certificateFile = certificateFile;
        _keyFile = keyFile;
        _passwordFile = passwordFile;
        _stamp = Stamp();
        _current = Load();
    }

    /// <summary>Raised (with the exception type) when a changed file could not be read and the old certificate was kept.</summary>
    public event Action<string>? ReloadFailed;

    /// <summary>The certificate to present now: re-read if a file changed since the last call.</summary>
    public X509Certificate2 Current
    {
        get
        {
            (DateTime, DateTime, DateTime) stamp = Stamp();
            lock (_gate)
            {
                if (stamp != _stamp)
                {
                    try
                    {
                        _current = Load();
                        _stamp = stamp;
                    }
                    catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException or ArgumentException)
                    {
                        ReloadFailed?.Invoke(e.GetType().Name);
                    }
                }

                return _current;
            }
        }
    }

    private (DateTime, DateTime, DateTime) Stamp() => (
        File.GetLastWriteTimeUtc(_certificateFile),
        _keyFile is null ? default : File.GetLastWriteTimeUtc(_keyFile),
        _passwordFile is null ? default : File.GetLastWriteTimeUtc(_passwordFile));

    private X509Certificate2 Load()
    {
        if (_certificateFile.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || _certificateFile.EndsWith(".p12", StringComparison.OrdinalIgnoreCase))
        {
            string? password = _passwordFile is null ? null : File.ReadAllText(_passwordFile).TrimEnd('\r', '\n');
            return X509CertificateLoader.LoadPkcs12FromFile(_certificateFile, password);
        }

        using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(_certificateFile, _keyFile);
        // Re-import so that the key is usable by SslStream on every platform (PEM keys are ephemeral otherwise).
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }
}
