using System.Net;
using System.Net.Sockets;
using Npgsql;
using StreamEngine.Hl7v2;

namespace StreamEngine.IntegrationTests;

/// <summary>
/// The journal's store goes away under a running engine (PostgreSQL reached through a loopback proxy that the test
/// cuts, so the outage is real to the engine: connections reset, new ones refused) and comes back. The architecture's
/// contract: a frame that cannot be journaled is answered AR 207 ("try again later"), promptly, and the stream serves
/// again once the store is back.
/// </summary>
public sealed class StoreOutageTests
{
    // Less than the listener's commit timeout (30 s): an answer within this did not wait the timeout out.
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(20);

    [SkippableFact]
    public async Task StoreOutage_FramesAnsweredArAtOnce_AndTheStreamServesAgainOnceTheStoreIsBack()
    {
        var upstream = new NpgsqlConnectionStringBuilder(await TestPostgres.CreateDatabaseAsync());
        await using var proxy = CuttableProxy.Start(upstream.Host!, upstream.Port);
        var viaProxy = new NpgsqlConnectionStringBuilder(upstream.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port };

        using var folder = new TestFolder();
        await folder.WriteConfigAsync(new { name = "outage", port = 0 },
            store: new { provider = "postgresql", connectionString = viaProxy.ConnectionString });
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", engine.Port, CancellationToken.None);

        Assert.Equal("AA", await SendAsync(client, "OUT-BEFORE"));

        proxy.Cut();
        // The first frame meets the failing commit; the rest meet a journal that is restarting, then one that cannot
        // recover: each one is answered AR with error 207, none waits for the commit timeout.
        for (int i = 0; i < 6; i++)
        {
            byte[] ack = await client.SendAsync(Peers.Adt("A08", $"OUT-DOWN-{i}", "MRN-OUT"), Prompt, CancellationToken.None);
            Assert.True(Hl7Parser.TryParse(ack, out Hl7Message? parsed, out _));
            Assert.Equal("AR", parsed!.Get("MSA-1"));
            Assert.Equal($"OUT-DOWN-{i}", parsed.Get("MSA-2"));
            Assert.Contains("^207&", System.Text.Encoding.ASCII.GetString(ack).Split('\r').Single(l => l.StartsWith("ERR|", StringComparison.Ordinal)));
        }

        Assert.True(await engine.AwaitLogAsync("could not recover from the store"), engine.Logs);

        proxy.Restore();
        // A sender resending its frame as AR asks: the stream accepts it again once the journal has recovered.
        int attempts = 0;
        string answer;
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        do
        {
            answer = await SendAsync(client, "OUT-AFTER");
            attempts++;
            if (answer != "AA")
            {
                await Task.Delay(200); // the sender's own retry pause
            }
        }
        while (answer != "AA" && DateTime.UtcNow < deadline);

        Assert.True(answer == "AA", $"still {answer} a minute after the store came back ({attempts} attempts):\n{engine.Logs}");
        List<string> delivered = [.. (await folder.AwaitLinesAsync(2)).Select(TestFolder.ControlId)];
        Assert.Equal(["OUT-BEFORE", "OUT-AFTER"], delivered.Where(id => !id.StartsWith("OUT-DOWN", StringComparison.Ordinal)));
        Assert.Equal(0, await engine.StopAsync());
        // One line per failure, not Akka's error with a stack trace for every attempt.
        Assert.DoesNotContain(engine.Logs.Split('\n'), line => line.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    private static async Task<string> SendAsync(MllpClient client, string controlId)
    {
        byte[] ack = await client.SendAsync(Peers.Adt("A08", controlId, "MRN-OUT"), Prompt, CancellationToken.None);
        Assert.True(Hl7Parser.TryParse(ack, out Hl7Message? parsed, out _));
        Assert.Equal(controlId, parsed!.Get("MSA-2"));
        return parsed.Get("MSA-1")!;
    }

    /// <summary>
    /// A loopback TCP proxy to a server: <see cref="Cut"/> resets every open connection and closes new ones at once (the
    /// server is gone as far as clients can tell); <see cref="Restore"/> forwards again. The port stays the same.
    /// </summary>
    private sealed class CuttableProxy : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly string _host;
        private readonly int _port;
        private readonly Lock _lock = new();
        private readonly List<TcpClient> _open = [];
        private readonly CancellationTokenSource _stop = new();
        private Task _accepting = Task.CompletedTask;
        private bool _cut;

        private CuttableProxy(string host, int port)
        {
            _host = host;
            _port = port;
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static CuttableProxy Start(string host, int port)
        {
            var proxy = new CuttableProxy(host, port);
            proxy._listener.Start();
            proxy._accepting = proxy.AcceptAsync();
            return proxy;
        }

        public void Cut()
        {
            lock (_lock)
            {
                _cut = true;
                foreach (TcpClient connection in _open)
                {
                    connection.Client.LingerState = new LingerOption(true, 0); // a reset, as a dead server's host sends
                    connection.Dispose();
                }

                _open.Clear();
            }
        }

        public void Restore()
        {
            lock (_lock)
            {
                _cut = false;
            }
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient inbound;
                try
                {
                    inbound = await _listener.AcceptTcpClientAsync(_stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }

                _ = ForwardAsync(inbound);
            }
        }

        private async Task ForwardAsync(TcpClient inbound)
        {
            var outbound = new TcpClient();
            lock (_lock)
            {
                if (_cut)
                {
                    inbound.Client.LingerState = new LingerOption(true, 0);
                    inbound.Dispose();
                    outbound.Dispose();
                    return;
                }

                _open.Add(inbound);
                _open.Add(outbound);
            }

            try
            {
                await outbound.ConnectAsync(_host, _port, _stop.Token);
                NetworkStream a = inbound.GetStream();
                NetworkStream b = outbound.GetStream();
                await Task.WhenAny(a.CopyToAsync(b, _stop.Token), b.CopyToAsync(a, _stop.Token));
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
            {
                // cut, or one side closed
            }
            finally
            {
                lock (_lock)
                {
                    _open.Remove(inbound);
                    _open.Remove(outbound);
                }

                inbound.Dispose();
                outbound.Dispose();
            }
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            await _accepting;
            Cut();
            _stop.Dispose();
        }
    }
}
