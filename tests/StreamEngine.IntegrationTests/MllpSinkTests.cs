using System.Text.Json;
using StreamEngine.Hl7v2;
using StreamEngine.TestKit;

namespace StreamEngine.IntegrationTests;

/// <summary>The onward MLLP sink against a third-party receiver: Debian python3-hl7's MLLP server.</summary>
public sealed class MllpSinkTests
{
    [SkippableFact]
    public async Task MessagesAreForwardedInOrder_ThroughTheRewrites_ToAThirdPartyReceiver()
    {
        Peers.RequireMllpSend();
        await using PeerProcess receiver = PeerProcess.Start("/usr/bin/python3", "python-hl7-server.py");
        int port = (await receiver.NextAsync()).GetProperty("port").GetInt32();
        using var folder = new TestFolder();
        await File.WriteAllTextAsync(Path.Combine(folder.Path, "streamengine.json"), JsonSerializer.Serialize(new
        {
            dataDirectory = Path.Combine(folder.Path, "data"),
            listeners = new[] { new { name = "it", host = "127.0.0.1", port = 0 } },
            sinks = new object[]
            {
                new
                {
                    name = "onward", type = "mllp", host = "127.0.0.1", port = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    filter = new { messageTypes = new[] { "ADT" } },
                    rewrite = new[] { new { path = "MSH-5", value = "EPR" }, new { path = "MSH-6", value = "RX2" } },
                },
            },
        }));
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);

        var messages = new List<byte[]>();
        for (int i = 1; i <= 20; i++)
        {
            messages.Add(Peers.Adt(i % 2 == 0 ? "A08" : "A01", $"ON-{i:D2}", $"M{i % 3}"));
        }

        messages.Insert(10, System.Text.Encoding.ASCII.GetBytes("MSH|^~\\&|LAB|RX1|X|Y|20261201||ORU^R01|LAB-1|P|2.4\rPID|1||M1^^^R0B^MR\r"));
        List<Hl7Message> acks = await Peers.SendAsync(engine.Port, messages);
        Assert.All(acks, a => Assert.Equal("AA", a.Get("MSA-1")));

        // The receiver sees the ADT messages (not the ORU: filtered), once each, each patient's in order, rewritten.
        var seen = new List<string>();
        for (int i = 1; i <= 20; i++)
        {
            JsonElement received = await receiver.NextAsync();
            seen.Add(received.GetProperty("received").GetString()!);
            Assert.Equal("EPR", received.GetProperty("receivingApplication").GetString());
            Assert.Equal("RX2", received.GetProperty("receivingFacility").GetString());
        }

        Assert.Equal(Enumerable.Range(1, 20).Select(i => $"ON-{i:D2}"), seen.Order(StringComparer.Ordinal));
        for (int patient = 0; patient < 3; patient++)
        {
            var sent = Enumerable.Range(1, 20).Where(i => i % 3 == patient).Select(i => $"ON-{i:D2}").ToList();
            Assert.Equal(sent, seen.Where(sent.Contains));
        }

        Assert.Equal(0, await engine.StopAsync());
    }

    [SkippableFact]
    public async Task AReceiverThatNeverAnswers_DoesNotHoldTheStop_AndTheMessageGoesAgainAtTheNextStart()
    {
        Peers.RequireMllpSend();
        // A receiver that reads the frame and never answers: the sink waits for an ACK it could wait 60 s for, 4 times.
        await using var silent = new FakeMllpServer();

        using var folder = new TestFolder();
        async Task ConfigureAsync(int port) => await File.WriteAllTextAsync(Path.Combine(folder.Path, "streamengine.json"), JsonSerializer.Serialize(new
        {
            dataDirectory = Path.Combine(folder.Path, "data"),
            listeners = new[] { new { name = "it", host = "127.0.0.1", port = 0 } },
            sinks = new[] { new { name = "onward", type = "mllp", host = "127.0.0.1", port = port.ToString(System.Globalization.CultureInfo.InvariantCulture), timeout = "60" } },
        }));
        await ConfigureAsync(silent.Port);
        await using (EngineProcess engine = await EngineProcess.StartAsync(folder.Path))
        {
            Assert.Equal("AA", (await Peers.SendAsync(engine.Port, [Peers.Adt("A01", "HELD-1", "M1")])).Single().Get("MSA-1"));
            Assert.Equal("HELD-1", (await silent.NextAsync()).ControlId); // the receiver holds it

            // SIGTERM: the stop gives the delivery up after its grace (2 s) instead of waiting out the ACK timeout and
            // the retries (the engine's own stop timeouts then cut it at ~14 s, with a warning).
            var stopping = System.Diagnostics.Stopwatch.StartNew();
            Assert.Equal(0, await engine.StopAsync());
            Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(8), $"the stop took {stopping.Elapsed}");
            Assert.Contains("the engine stopped while sequence 1 waited for its receiver", engine.Logs, StringComparison.Ordinal);
            Assert.DoesNotContain("timed out", engine.Logs, StringComparison.Ordinal);
        }

        (int exit, string stdout) = await CliTests.RunAsync("status", "--json", "-c", Path.Combine(folder.Path, "streamengine.json"));
        Assert.Equal(0, exit);
        JsonElement sink = JsonDocument.Parse(stdout).RootElement.GetProperty("sinks").EnumerateArray().Single();
        Assert.Equal((0L, 1L), (sink.GetProperty("counts").GetProperty("delivered").GetInt64(), sink.GetProperty("inFlight").GetInt64()));

        // The next start sends it again, to a receiver that answers: delivered once.
        await using PeerProcess receiver = PeerProcess.Start("/usr/bin/python3", "python-hl7-server.py");
        await ConfigureAsync((await receiver.NextAsync()).GetProperty("port").GetInt32());
        await using (EngineProcess engine = await EngineProcess.StartAsync(folder.Path))
        {
            Assert.Equal("HELD-1", (await receiver.NextAsync()).GetProperty("received").GetString());
            Assert.Equal(0, await engine.StopAsync());
        }

        (exit, stdout) = await CliTests.RunAsync("status", "--json", "-c", Path.Combine(folder.Path, "streamengine.json"));
        sink = JsonDocument.Parse(stdout).RootElement.GetProperty("sinks").EnumerateArray().Single();
        Assert.Equal((0, 1L, 0L), (exit, sink.GetProperty("counts").GetProperty("delivered").GetInt64(), sink.GetProperty("inFlight").GetInt64()));
    }

    [Fact]
    public async Task AStopUnderWay_StartsNoNewSend_SoASlowButHealthyReceiverGetsEachMessageOnce()
    {
        // A receiver that ACKs each message 0.7 s after it came: well inside the stop's grace, but slow enough that a
        // stop lands while the sink still has prepared messages it could go on sending.
        await using var receiver = new FakeMllpServer();
        var received = new System.Collections.Concurrent.ConcurrentQueue<string>();
        TimeSpan delay = TimeSpan.FromMilliseconds(700);
        _ = Task.Run(async () =>
        {
            await foreach (FakeMllpServer.Received message in receiver.Inbox.Reader.ReadAllAsync())
            {
                received.Enqueue(message.ControlId);
                await Task.Delay(delay);
                try
                {
                    await message.ReplyAsync(FakeMllpServer.Ack("AA", message.ControlId));
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
                {
                    // The engine went away meanwhile (it stopped): that message was not ACKed.
                }
            }
        });
        async Task AwaitReceivedAsync(int count)
        {
            DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (received.Count < count && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }

            Assert.True(received.Count >= count, $"{received.Count} of {count} received");
        }

        using var folder = new TestFolder();
        await File.WriteAllTextAsync(Path.Combine(folder.Path, "streamengine.json"), JsonSerializer.Serialize(new
        {
            dataDirectory = Path.Combine(folder.Path, "data"),
            listeners = new[] { new { name = "it", host = "127.0.0.1", port = 0 } },
            sinks = new[] { new { name = "onward", type = "mllp", host = "127.0.0.1", port = receiver.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) } },
        }));
        List<byte[]> messages = [.. Enumerable.Range(1, 8).Select(i => Peers.Adt("A01", $"SLOW-{i}", $"M{i}"))];
        await using (EngineProcess engine = await EngineProcess.StartAsync(folder.Path))
        {
            Assert.All(await Peers.SendAsync(engine.Port, messages), a => Assert.Equal("AA", a.Get("MSA-1")));
            await AwaitReceivedAsync(2); // sends under way, more prepared behind them
            Assert.Equal(0, await engine.StopAsync());
        }

        delay = TimeSpan.Zero;
        await using (EngineProcess engine = await EngineProcess.StartAsync(folder.Path))
        {
            await AwaitReceivedAsync(8);
            Assert.Equal(0, await engine.StopAsync());
        }

        // Each message reached the receiver once: none was sent, given up and sent again.
        Assert.Equal(messages.Select((_, i) => $"SLOW-{i + 1}").Order(StringComparer.Ordinal), received.Order(StringComparer.Ordinal));
    }

    [Fact]
    public Task AReceiverThatAnswersAR_WithARInQuarantineOn_QuarantinesTheMessage_AndASkipSendsThePatientsNext() =>
        // A receiver that rejects one message for good (AR) held the sink, restarting on it, until the receiver changed:
        // with quarantineOn AR the message is quarantined at once (sent once, not retried).
        RefusedMessageIsQuarantinedAsync("ar", "Ack:AR", expectedSends: 1,
            (message, refused) => refused ? message.ReplyAsync(FakeMllpServer.Ack("AR", message.ControlId)) : null);

    [Fact]
    public Task AReceiverThatDropsTheConnectionOnOneMessage_WithDroppedInQuarantineOn_QuarantinesItAfterItsTries() =>
        // A receiver that hangs up on one message (say, one over its frame size limit) instead of answering held the sink,
        // restarting on it: with quarantineOn Dropped the message is quarantined once its tries (3) all ended so.
        RefusedMessageIsQuarantinedAsync("Dropped", "Dropped", expectedSends: 3, (message, refused) =>
        {
            if (!refused)
            {
                return null;
            }

            message.Client.Close();
            return Task.CompletedTask;
        });

    // The receiver answers AA, except to REF-1, which refuse handles (answers or hangs up): it is quarantined with the
    // reason, other patients flow on, the same patient's REF-2 waits behind it, and the operator's skip sends REF-2.
    private static async Task RefusedMessageIsQuarantinedAsync(string quarantineOn, string reason, int expectedSends,
        Func<FakeMllpServer.Received, bool, Task?> refuse)
    {
        await using var receiver = new FakeMllpServer();
        var received = new System.Collections.Concurrent.ConcurrentQueue<string>();
        _ = Task.Run(async () =>
        {
            await foreach (FakeMllpServer.Received message in receiver.Inbox.Reader.ReadAllAsync())
            {
                received.Enqueue(message.ControlId);
                try
                {
                    await (refuse(message, message.ControlId == "REF-1") ?? message.ReplyAsync(FakeMllpServer.Ack("AA", message.ControlId)));
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
                {
                    // The engine stopped meanwhile.
                }
            }
        });

        using var folder = new TestFolder();
        string config = Path.Combine(folder.Path, "streamengine.json");
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new
        {
            dataDirectory = Path.Combine(folder.Path, "data"),
            listeners = new[] { new { name = "it", host = "127.0.0.1", port = 0 } },
            admin = new { port = 0 },
            sinks = new[]
            {
                new
                {
                    name = "onward", type = "mllp", host = "127.0.0.1", maxAttempts = "3",
                    port = receiver.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), quarantineOn = new[] { quarantineOn },
                },
            },
        }));
        await using EngineProcess engine = await EngineProcess.StartAsync(folder.Path);
        Assert.All(await Peers.SendAsync(engine.Port, [Peers.Adt("A01", "REF-1", "M1"), Peers.Adt("A08", "REF-2", "M1"), Peers.Adt("A01", "OK-1", "M2")]),
            a => Assert.Equal("AA", a.Get("MSA-1")));

        JsonElement item = default;
        for (DateTime deadline = DateTime.UtcNow.AddMinutes(1); ;)
        {
            (int _, string stdout) = await CliTests.RunAsync("quarantine", "list", "--json", "-c", config);
            JsonElement[] items = [.. JsonDocument.Parse(stdout).RootElement.GetProperty("items").EnumerateArray()];
            if (items.Length == 1 && items[0].GetProperty("parked").GetInt32() == 1 && received.Contains("OK-1"))
            {
                item = items[0].Clone();
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"not quarantined with 1 parked: {stdout}\n{engine.Logs}");
            await Task.Delay(100); // a probe of the sink
        }

        Assert.Equal(("REF-1", reason), (item.GetProperty("controlId").GetString(), item.GetProperty("reason").GetString()));
        Assert.DoesNotContain("REF-2", received); // held behind it, in order
        Assert.DoesNotContain("restarts", engine.Logs, StringComparison.Ordinal); // the sink did not fail over it
        (int exit, string _, string error) = await CliTests.RunWithErrorsAsync("quarantine", "skip", item.GetProperty("id").GetString()!, "--reason", "the receiver refuses it", "-c", config);
        Assert.True(exit == 0, error);
        for (DateTime deadline = DateTime.UtcNow.AddMinutes(1); !received.Contains("REF-2"); await Task.Delay(50))
        {
            Assert.True(DateTime.UtcNow < deadline, engine.Logs);
        }

        Assert.Equal(0, await engine.StopAsync());
        Assert.Equal(expectedSends, received.Count(id => id == "REF-1")); // its tries, then no more
        Assert.Equal(["OK-1", "REF-2"], received.Where(id => id != "REF-1").Order(StringComparer.Ordinal));
    }
}
