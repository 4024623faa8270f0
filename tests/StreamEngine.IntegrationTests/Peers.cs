using System.Diagnostics;
using System.Text;
using StreamEngine.Hl7v2;
using StreamEngine.Mllp;
using StreamEngine.TestKit;

namespace StreamEngine.IntegrationTests;

/// <summary>MLLP senders: Debian's python3-hl7 <c>mllp_send</c> (a third-party peer) and our own client.</summary>
internal static class Peers
{
    public const string MllpSend = "/usr/bin/mllp_send";

    /// <summary>
    /// Tests that need a third-party peer skip where it is not installed (a developer machine with only the SDK),
    /// unless STREAMENGINE_REQUIRE_PEERS=1, which .ci/run sets so that CI fails instead of skipping.
    /// </summary>
    public static void RequireMllpSend()
    {
        bool required = Environment.GetEnvironmentVariable("STREAMENGINE_REQUIRE_PEERS") == "1";
        Assert.True(File.Exists(MllpSend) || !required, "python3-hl7 is not installed (apt-get install python3-hl7; .ci/run does this)");
        Skip.IfNot(File.Exists(MllpSend), "python3-hl7 (mllp_send) is not installed: apt-get install python3-hl7");
    }

    /// <summary>Runs <c>mllp_send --loose -p PORT -f FILE 127.0.0.1</c>; returns the ACKs it printed, parsed.</summary>
    public static async Task<List<Hl7Message>> MllpSendAsync(int port, string file)
    {
        RequireMllpSend();
        var start = new ProcessStartInfo(MllpSend) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { "--loose", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-f", file, "127.0.0.1" })
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        using var stdout = new MemoryStream();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.BaseStream.CopyToAsync(stdout);
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(process.ExitCode == 0, $"mllp_send failed ({process.ExitCode}): {await stderr}");

        // mllp_send prints each ACK as it came off the wire, MLLP frame bytes included.
        return MllpAnswers.Parse(stdout.ToArray());
    }

    /// <summary>Sends each message in turn on one connection, waiting for each ACK.</summary>
    public static async Task<List<Hl7Message>> SendAsync(int port, IEnumerable<byte[]> messages)
    {
        var acks = new List<Hl7Message>();
        await using MllpClient client = await MllpClient.ConnectAsync("127.0.0.1", port, CancellationToken.None);
        foreach (byte[] message in messages)
        {
            byte[] ack = await client.SendAsync(message, TimeSpan.FromSeconds(30), CancellationToken.None);
            Assert.True(Hl7Parser.TryParse(ack, out Hl7Message? parsed, out _));
            acks.Add(parsed!);
        }

        return acks;
    }

    /// <summary>An original-mode ADT message for one patient.</summary>
    public static byte[] Adt(string trigger, string controlId, string mrn, string nhsNumber = "9990000034", string visit = "V1") =>
        Encoding.ASCII.GetBytes(
            $"MSH|^~\\&|PAS|RX1|ROUTE|RX1|20261130081500||ADT^{trigger}^ADT_A01|{controlId}|P|2.4\r" +
            $"EVN|{trigger}|20261130081500\r" +
            Pid(mrn, nhsNumber) + Pv1(visit));

    /// <summary>An ORU^R01 with two results for one patient.</summary>
    public static byte[] Oru(string controlId, string mrn, string nhsNumber = "9990000034", string visit = "V1") =>
        Encoding.ASCII.GetBytes(
            $"MSH|^~\\&|LAB|RX1|ROUTE|RX1|20261130081500||ORU^R01^ORU_R01|{controlId}|P|2.4\r" +
            Pid(mrn, nhsNumber) + Pv1(visit) +
            $"OBR|1|{controlId}^ICE|{controlId}^LAB|CBC^Full blood count^L|||20261130080000\r" +
            "OBX|1|NM|HB^Haemoglobin^L||135|g/L|115-165|N|||F\r" +
            "OBX|2|NM|WBC^White cells^L||6.1|10*9/L|4.0-11.0|N|||F\r");

    /// <summary>An SIU^S12 (a booked appointment) for one patient.</summary>
    public static byte[] Siu(string controlId, string mrn, string nhsNumber = "9990000034") =>
        Encoding.ASCII.GetBytes(
            $"MSH|^~\\&|SCHED|RX1|ROUTE|RX1|20261130081500||SIU^S12^SIU_S12|{controlId}|P|2.4\r" +
            $"SCH|{controlId}^SCHED|{controlId}^SCHED|||||ROUTINE^Routine|NORMAL|30|min|^^^20261201090000^20261201093000||||||||||||||BOOKED\r" +
            Pid(mrn, nhsNumber) +
            "AIL|1||CLINIC1^^^R0B01\r");

    private static string Pid(string mrn, string nhsNumber) => $"PID|1||{mrn}^^^R0B^MR~{nhsNumber}^^^NHS^NH||TESTER^PAT||19800101|F\r";

    private static string Pv1(string visit) => $"PV1|1|I|WARD1^^^R0B01||||||||||||||||{visit}^^^R0B\r";
}
