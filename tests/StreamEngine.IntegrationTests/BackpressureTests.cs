using System.Diagnostics;
using System.Net.Sockets;
using StreamEngine.Hl7v2;
using StreamEngine.Mllp;
using Xunit.Abstractions;

namespace StreamEngine.IntegrationTests;

/// <summary>Senders far faster than the journal: the listener must stop reading, not buffer.</summary>
public sealed class BackpressureTests(ITestOutputHelper output)
{
    private static byte[] BigAdt(string controlId, string mrn)
    {
        // A 60 KB note: 16 connections x 200 frames offer ~190 MiB, far more than the engine may hold.
        byte[] adt = Peers.Adt("A08", controlId, mrn);
        return [.. adt, .. System.Text.Encoding.ASCII.GetBytes("NTE|1||" + new string('x', 60 * 1024) + "\r")];
    }

    [Fact]
    public async Task SixteenFloodingConnections_KeepMemoryBounded_AndEveryAckIsForAJournaledMessage()
    {
        using var folder = new TestFolder();
        // A hard heap limit turns "memory stays bounded" into pass/fail: an engine that read ahead of its journal would
        // hold the ~190 MiB offered (and its copies) and fail with OutOfMemory; one that stops reading never comes close.
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path,
            environment: new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = "0x14000000" }); // 320 MiB
        using var engineProcess = Process.GetProcessById(engine.ProcessId);
        const int connections = 16;
        const int perConnection = 200;
        await Peers.SendAsync(engine.Port, [BigAdt("WARMUP", "M0")]);
        engineProcess.Refresh();
        long baselineRss = engineProcess.WorkingSet64;
        var acked = new System.Collections.Concurrent.ConcurrentBag<string>();
        long peakRss = 0;
        using var sampling = new CancellationTokenSource();
        Task sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                engineProcess.Refresh();
                peakRss = Math.Max(peakRss, engineProcess.WorkingSet64);
                await Task.Delay(50);
            }
        });

        // Each connection writes all its frames without waiting for ACKs (a flood), while a reader collects ACKs.
        // The engine answers one frame at a time per connection, so the socket buffers fill and TCP stalls the writers.
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async c =>
        {
            using var tcp = new TcpClient { NoDelay = true };
            await tcp.ConnectAsync("127.0.0.1", engine.Port);
            NetworkStream stream = tcp.GetStream();
            Task writer = Task.Run(async () =>
            {
                for (int i = 0; i < perConnection; i++)
                {
                    await stream.WriteAsync(MllpFrame.Wrap(BigAdt($"F{c}-{i}", $"M{c}")));
                }
            });
            var decoder = new MllpDecoder(1 << 20);
            var frames = new List<byte[]>();
            var buffer = new byte[64 * 1024];
            int received = 0;
            using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            while (received < perConnection)
            {
                int read = await stream.ReadAsync(buffer, bound.Token);
                Assert.True(read > 0, "the engine closed a flooding connection");
                frames.Clear();
                decoder.Feed(buffer.AsSpan(0, read), frames);
                foreach (byte[] frame in frames)
                {
                    Assert.True(Hl7Parser.TryParse(frame, out Hl7Message? ack, out _));
                    Assert.Equal("AA", ack!.Get("MSA-1"));
                    acked.Add(ack.Get("MSA-2")!);
                    received++;
                }
            }

            await writer;
        }));
        clock.Stop();
        await sampling.CancelAsync();
        await sampler;

        Assert.Equal(connections * perConnection, acked.Distinct().Count());
        long offered = (long)connections * perConnection * BigAdt("F0-0", "M0").Length;
        output.WriteLine($"offered {offered >> 20} MiB in {clock.Elapsed.TotalSeconds:0.0} s; RSS {baselineRss >> 20} MiB before, {peakRss >> 20} MiB at peak");
        Assert.False(engine.HasExited, "the engine died under the flood:\n" + engine.Logs);
        Assert.DoesNotContain("OutOfMemory", engine.Logs, StringComparison.Ordinal);

        // Everything ACKed was journaled: the sink, which writes exactly the journal, holds every ACKed control id,
        // under consecutive journal sequence numbers (nothing journaled twice, nothing skipped).
        var lines = await folder.AwaitLinesAsync(acked.Count + 1, TimeSpan.FromMinutes(3));
        Assert.Equal(0, await engine.StopAsync());
        lines = folder.Lines();
        Assert.Empty(acked.Except(lines.Select(TestFolder.ControlId)));
        Assert.Equal(connections * perConnection + 1, lines.Count); // the flood and the warm-up message, each once
        Assert.Equal(Enumerable.Range(1, lines.Count).Select(i => $"streamengine:ingest/it/default#{i}"), TestFolder.InJournalOrder(lines).Select(TestFolder.DeliveryId));
    }
}
