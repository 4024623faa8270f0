using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using StreamEngine.Hl7v2;

namespace StreamEngine.Host.Commands;

/// <summary>
/// <c>streamengine inspect FILE...</c>: one JSON object per message (JSON Lines): <c>type</c> (MSH-9 as sent),
/// <c>version</c>, <c>controlId</c>, <c>segments</c>, <c>issues</c> (codes and positions, never content). Files may
/// hold many messages; a batch file is split, and its envelope's issues are reported on each of its messages as
/// <c>batchIssues</c>. Exit code 0 when every message is usable.
/// </summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var files = new Argument<FileInfo[]>("files") { Description = "Files of HL7 v2 messages or batches.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("inspect", "Parse HL7 v2 files and print one JSON line per message.") { files };
        command.SetAction(async (parse, cancellationToken) =>
        {
            bool allUsable = true;
            await using Stream stdout = Console.OpenStandardOutput();
            await using var json = new Utf8JsonWriter(stdout, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            foreach (FileInfo file in parse.GetValue(files)!)
            {
                if (!file.Exists)
                {
                    await Console.Error.WriteLineAsync($"inspect: file not found: {file.FullName}");
                    return 2;
                }

                byte[] content = await File.ReadAllBytesAsync(file.FullName, cancellationToken);
                IReadOnlyList<Hl7Issue> batchIssues = [];
                IEnumerable<ReadOnlyMemory<byte>> messages;
                if (Hl7Batch.IsBatch(content) && Hl7Batch.TryParse(content, out Hl7Batch? batch, out batchIssues))
                {
                    messages = batch!.Messages;
                }
                else
                {
                    messages = Hl7StreamReader.ReadAll(content);
                }

                int index = 0;
                foreach (ReadOnlyMemory<byte> message in messages)
                {
                    allUsable &= Write(json, file.Name, ++index, message, batchIssues);
                    await EndLineAsync(json, stdout, cancellationToken);
                }

                if (index == 0)
                {
                    // Nothing that looks like a message: still one line, so the file is never silently skipped.
                    Write(json, file.Name, 0, content, batchIssues);
                    await EndLineAsync(json, stdout, cancellationToken);
                    allUsable = false;
                }
            }

            return allUsable ? 0 : 1;
        });
        return command;
    }

    private static async Task EndLineAsync(Utf8JsonWriter json, Stream stdout, CancellationToken cancellationToken)
    {
        await json.FlushAsync(cancellationToken);
        await stdout.WriteAsync("\n"u8.ToArray(), cancellationToken);
        json.Reset();
    }

    private static bool Write(Utf8JsonWriter json, string file, int index, ReadOnlyMemory<byte> bytes, IReadOnlyList<Hl7Issue> batchIssues)
    {
        bool usable = Hl7Parser.TryParse(bytes, out Hl7Message? message, out IReadOnlyList<Hl7Issue> issues);
        json.WriteStartObject();
        json.WriteString("file", file);
        json.WriteNumber("index", index);
        if (message is not null && message.Msh.IdSpan.SequenceEqual("MSH"u8))
        {
            json.WriteString("type", message.MessageType);
            json.WriteString("version", message.Msh.Field(12).RawText);
            json.WriteString("controlId", message.Msh.Field(10).RawText);
            json.WriteNumber("segments", message.SegmentCount);
        }
        else
        {
            json.WriteNull("type");
            json.WriteNull("version");
            json.WriteNull("controlId");
            json.WriteNumber("segments", message?.SegmentCount ?? 0);
        }

        json.WriteBoolean("usable", usable);
        WriteIssues(json, "issues", issues);
        if (batchIssues.Count > 0)
        {
            WriteIssues(json, "batchIssues", batchIssues);
        }

        json.WriteEndObject();
        return usable;
    }

    private static void WriteIssues(Utf8JsonWriter json, string name, IReadOnlyList<Hl7Issue> issues)
    {
        json.WriteStartArray(name);
        foreach (Hl7Issue issue in issues)
        {
            json.WriteStartObject();
            json.WriteString("code", issue.Code.ToString());
            json.WriteString("severity", issue.IsError ? "error" : "warning");
            json.WriteNumber("segment", issue.Segment);
            json.WriteNumber("field", issue.Field);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }
}
