using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using StreamEngine.Mllp;
using StreamEngine.TestKit;

namespace StreamEngine.IntegrationTests;

/// <summary>TLS and mutual TLS listeners, with a certificate authority made for each test.</summary>
public sealed class TlsTests
{
    private static Task WriteConfigAsync(TestFolder folder, object tls) => folder.WriteConfigAsync(new { name = "tls", port = 0, tls });

    private static MllpSenderOptions Client(EngineProcess engine, TestCertificates certs, X509Certificate2? clientCertificate = null,
        Action<X509Certificate?>? seen = null) => new()
    {
        Host = "127.0.0.1",
        Port = engine.Port,
        TlsServerName = "127.0.0.1",
        ClientCertificate = clientCertificate,
        ServerCertificateValidation = (_, certificate, _, errors) =>
        {
            seen?.Invoke(certificate);
            return certs.Trusts(certificate, errors);
        },
        MaxRetries = 0,
        AckTimeout = TimeSpan.FromSeconds(20),
    };

    [Fact]
    public async Task TlsListener_AcceptsAClientThatTrustsItsCa()
    {
        using var folder = new TestFolder();
        using var certs = new TestCertificates(Path.Combine(folder.Path, "certs"));
        certs.Server("server");
        await WriteConfigAsync(folder, new { certificateFile = certs.CertFile("server"), keyFile = certs.KeyFile("server") });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);

        await using var sender = new MllpSender(Client(engine, certs));
        SendResult result = await sender.SendAsync(Peers.Adt("A01", "TLS1", "M1"), CancellationToken.None);
        Assert.Equal((AckDisposition.Success, "AA"), (result.Disposition, result.Code));
        Assert.Single(await folder.AwaitLinesAsync(1));
    }

    [Fact]
    public async Task MutualTls_RefusesAClientWithoutACertificate_OrWithOneNotAllowed_AndAcceptsAnAllowedOne()
    {
        using var folder = new TestFolder();
        using var certs = new TestCertificates(Path.Combine(folder.Path, "certs"));
        certs.Server("server");
        X509Certificate2 pas = certs.Client("pas", "CN=pas,O=Trust");
        X509Certificate2 ris = certs.Client("ris", "CN=ris,O=Trust");
        X509Certificate2 lims = certs.Client("lims", "CN=lims,O=Trust");
        await WriteConfigAsync(folder, new
        {
            certificateFile = certs.CertFile("server"),
            keyFile = certs.KeyFile("server"),
            clientCertificates = new[] { pas.Thumbprint, "CN=ris, O=Trust" },
            clientCaFile = certs.CaFile,
        });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);

        await using (var anonymous = new MllpSender(Client(engine, certs)))
        {
            Assert.NotEqual(AckDisposition.Success, (await anonymous.SendAsync(Peers.Adt("A01", "NOCERT", "M1"), CancellationToken.None)).Disposition);
        }

        Assert.True(await engine.AwaitLogAsync("refused (NoClientCertificate)"), engine.Logs);

        await using (var stranger = new MllpSender(Client(engine, certs, lims)))
        {
            Assert.NotEqual(AckDisposition.Success, (await stranger.SendAsync(Peers.Adt("A01", "LIMS", "M1"), CancellationToken.None)).Disposition);
        }

        Assert.True(await engine.AwaitLogAsync("refused (ClientCertificateNotAllowed)"), engine.Logs);

        await using (var byThumbprint = new MllpSender(Client(engine, certs, pas)))
        {
            Assert.Equal("AA", (await byThumbprint.SendAsync(Peers.Adt("A01", "PAS1", "M1"), CancellationToken.None)).Code);
        }

        await using (var bySubject = new MllpSender(Client(engine, certs, ris)))
        {
            Assert.Equal("AA", (await bySubject.SendAsync(Peers.Adt("A01", "RIS1", "M2"), CancellationToken.None)).Code);
        }

        Assert.Equal(["PAS1", "RIS1"], TestFolder.InJournalOrder(await folder.AwaitLinesAsync(2)).Select(TestFolder.ControlId));
    }

    [Fact]
    public async Task RenewedCertificateOnDisk_IsUsedForNewConnections_WithoutDroppingLiveOnes()
    {
        using var folder = new TestFolder();
        using var certs = new TestCertificates(Path.Combine(folder.Path, "certs"));
        X509Certificate2 first = certs.Server("server");
        await WriteConfigAsync(folder, new { certificateFile = certs.CertFile("server"), keyFile = certs.KeyFile("server") });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);

        string? seenByOld = null;
        int oldHandshakes = 0;
        await using var old = new MllpSender(Client(engine, certs, seen: c =>
        {
            seenByOld = c?.GetCertHashString();
            oldHandshakes++;
        }));
        Assert.Equal("AA", (await old.SendAsync(Peers.Adt("A01", "BEFORE", "M1"), CancellationToken.None)).Code);
        Assert.Equal(first.GetCertHashString(), seenByOld);

        // Renew: write the new key and certificate over the old files, with a later modification time.
        X509Certificate2 renewed = certs.Server("renewed");
        File.Copy(certs.KeyFile("renewed"), certs.KeyFile("server"), overwrite: true);
        File.Copy(certs.CertFile("renewed"), certs.CertFile("server"), overwrite: true);
        File.SetLastWriteTimeUtc(certs.CertFile("server"), DateTime.UtcNow.AddSeconds(5));

        string? seenByNew = null;
        await using var fresh = new MllpSender(Client(engine, certs, seen: c => seenByNew = c?.GetCertHashString()));
        Assert.Equal("AA", (await fresh.SendAsync(Peers.Adt("A01", "AFTER", "M2"), CancellationToken.None)).Code);
        Assert.Equal(renewed.GetCertHashString(), seenByNew);

        Assert.Equal("AA", (await old.SendAsync(Peers.Adt("A08", "STILL", "M1"), CancellationToken.None)).Code);
        Assert.Equal(1, oldHandshakes); // the live connection was kept: no second handshake
        Assert.Equal(first.GetCertHashString(), seenByOld);
    }

    [Fact]
    public async Task SendCli_WithTlsAndCa_ReachesATlsListener()
    {
        using var folder = new TestFolder();
        using var certs = new TestCertificates(Path.Combine(folder.Path, "certs"));
        certs.Server("server");
        certs.Client("pas", "CN=pas");
        await WriteConfigAsync(folder, new
        {
            certificateFile = certs.CertFile("server"),
            keyFile = certs.KeyFile("server"),
            clientCertificates = new[] { "CN=pas" },
            clientCaFile = certs.CaFile,
        });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        string file = Path.Combine(folder.Path, "m.hl7");
        await File.WriteAllBytesAsync(file, Peers.Adt("A01", "CLI1", "M1"));

        (int exit, string stdout) = await CliTests.RunAsync("send", file, "--port", engine.Port.ToString(CultureInfo.InvariantCulture),
            "--tls", "--ca", certs.CaFile, "--cert", certs.CertFile("pas"), "--key", certs.KeyFile("pas"));
        Assert.True(exit == 0, stdout);
        Assert.Contains("AA 1", stdout, StringComparison.Ordinal);

        // Without the CA that signed the server's certificate: refused, and send says why.
        (exit, _, string stderr) = await CliTests.RunWithErrorsAsync("send", file, "--port", engine.Port.ToString(CultureInfo.InvariantCulture),
            "--tls", "--cert", certs.CertFile("pas"), "--key", certs.KeyFile("pas"));
        Assert.Equal(1, exit);
        Assert.Contains("could not connect to 127.0.0.1:", stderr, StringComparison.Ordinal);
        Assert.Contains("AuthenticationException", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnreadableCertificate_FailsAtStartUp_NamingTheKey()
    {
        using var folder = new TestFolder();
        string bad = Path.Combine(folder.Path, "bad.pem");
        await File.WriteAllTextAsync(bad, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
        await WriteConfigAsync(folder, new { certificateFile = bad });
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => EngineProcess.StartAsync(folder.Path));
        Assert.Contains("listeners[0].tls.certificateFile", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServerCertificateFromAnIntermediate_IsSentWithItsChain()
    {
        using var folder = new TestFolder();
        using var certs = new TestCertificates(Path.Combine(folder.Path, "certs"));
        (_, X509Certificate2 intermediate) = certs.ServerWithChain("server");
        await WriteConfigAsync(folder, new { certificateFile = certs.CertFile("server"), keyFile = certs.KeyFile("server") });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);

        bool intermediateSent = false;
        var options = Client(engine, certs) with
        {
            ServerCertificateValidation = (_, certificate, chain, _) =>
            {
                // The client knows only the root: the intermediate must come from the server for the chain to build.
                intermediateSent = chain?.ChainElements.Any(e => e.Certificate.Thumbprint == intermediate.Thumbprint) == true;
                return certificate is not null;
            },
        };
        await using var sender = new MllpSender(options);
        Assert.Equal("AA", (await sender.SendAsync(Peers.Adt("A01", "CHAIN1", "M1"), CancellationToken.None)).Code);
        Assert.True(intermediateSent);
    }

    [Fact]
    public async Task HundredConcurrentTlsConnections_AreAllServed()
    {
        using var folder = new TestFolder();
        using var certs = new TestCertificates(Path.Combine(folder.Path, "certs"));
        certs.Server("server");
        await folder.WriteConfigAsync(new { name = "tls", port = 0, maxConnections = "200", tls = new { certificateFile = certs.CertFile("server"), keyFile = certs.KeyFile("server") } });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);

        // Idle TLS connections must not hold threads: open 100, then each sends one message.
        var senders = Enumerable.Range(0, 100).Select(_ => new MllpSender(Client(engine, certs) with { AckTimeout = TimeSpan.FromSeconds(60) })).ToList();
        try
        {
            SendResult[] results = await Task.WhenAll(senders.Select((s, i) => s.SendAsync(Peers.Adt("A01", $"C{i}", $"M{i}"), CancellationToken.None)));
            Assert.All(results, r => Assert.Equal("AA", r.Code));
        }
        finally
        {
            foreach (MllpSender sender in senders)
            {
                await sender.DisposeAsync();
            }
        }
    }
}
