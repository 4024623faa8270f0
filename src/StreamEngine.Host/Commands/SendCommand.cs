using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using StreamEngine.Hl7v2;
using StreamEngine.Mllp;

namespace StreamEngine.Host.Commands;

/// <summary>
/// <c>streamengine send FILE...</c>: sends every message in the files over MLLP, one at a time, waiting for each
/// ACK, and prints the counts per acknowledgment code and the elapsed time. Exit code 0 when every message was
/// accepted (AA/CA), 1 otherwise.
/// </summary>
internal static class SendCommand
{
    public static Command Create()
    {
        var files = new Argument<FileInfo[]>("files") { Description = "Files of HL7 v2 messages (CR, LF or CRLF; blank line or MSH starts a message).", Arity = ArgumentArity.OneOrMore };
        var host = new Option<string>("--host") { Description = "MLLP server address.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port", "-p") { Description = "MLLP server port.", DefaultValueFactory = _ => 2575 };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for each ACK.", DefaultValueFactory = _ => 30 };
        var command = new Command("send", "Send HL7 v2 messages over MLLP and report the ACKs.") { files, host, port, timeout };
        command.SetAction((parse, cancellationToken) => RunAsync(parse.GetValue(files)!, parse.GetValue(host)!, parse.GetValue(port),
            TimeSpan.FromSeconds(parse.GetValue(timeout)), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(FileInfo[] files, string host, int port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var messages = new List<byte[]>();
        foreach (FileInfo file in files)
        {
            if (!file.Exists)
            {
                await Console.Error.WriteLineAsync($"send: file not found: {file.FullName}");
                return 2;
            }

            messages.AddRange(Hl7MessageSplitter.Split(await File.ReadAllBytesAsync(file.FullName, cancellationToken)));
        }

        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        int sent = 0;
        int mismatched = 0;
        var clock = Stopwatch.StartNew();
        try
        {
            await using MllpClient client = await MllpClient.ConnectAsync(host, port, cancellationToken);
            foreach (byte[] message in messages)
            {
                byte[] ack = await client.SendAsync(message, timeout, cancellationToken);
                sent++;
                (string code, bool matches) = ReadAck(message, ack);
                counts[code] = counts.GetValueOrDefault(code) + 1;
                if (!matches)
                {
                    mismatched++;
                }
            }
        }
        catch (Exception e) when (e is SocketException or IOException or TimeoutException)
        {
            await Console.Error.WriteLineAsync($"send: {e.Message} (after {sent} of {messages.Count} messages)");
            Print(messages.Count, sent, counts, mismatched, clock.Elapsed);
            return 1;
        }

        Print(messages.Count, sent, counts, mismatched, clock.Elapsed);
        int accepted = counts.GetValueOrDefault("AA") + counts.GetValueOrDefault("CA");
        return accepted == messages.Count && mismatched == 0 ? 0 : 1;
    }

    private static (string Code, bool ControlIdMatches) ReadAck(byte[] message, byte[] ack)
    {
        if (!Hl7Parser.TryParse(ack, out Hl7Message? parsed, out _) || parsed?.FindSegment("MSA") is not { } msa)
        {
            return ("unreadable", false);
        }

        string code = msa.Field(1).ToString();
        string? sentId = Hl7Parser.TryParse(message, out Hl7Message? original, out _) ? original?.ControlId : Hl7AckBuilder.LooseControlId(message);
        return (code.Length == 0 ? "unreadable" : code, sentId is null || msa.Field(2).ToString() == sentId);
    }

    private static void Print(int total, int sent, SortedDictionary<string, int> counts, int mismatched, TimeSpan elapsed)
    {
        string codes = string.Join("  ", new[] { "AA", "AE", "AR" }.Concat(counts.Keys).Distinct()
            .Select(c => $"{c} {counts.GetValueOrDefault(c).ToString(CultureInfo.InvariantCulture)}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sent {sent}/{total}  {codes}  wrong-MSA-2 {mismatched}  elapsed {elapsed.TotalSeconds:0.000} s"));
    }
}
