using System.CommandLine;
using StreamEngine.Fhir;
using StreamEngine.Fhir.Profiles;
using StreamEngine.Hl7v2;

namespace StreamEngine.Host.Commands;

/// <summary>
/// <c>streamengine convert FILE... [--profile P] [--pretty]</c>: maps each HL7 v2 message (files may hold many, or a
/// batch) to its FHIR R4 transaction Bundle and prints it: one compact line per bundle (NDJSON), or indented with
/// <c>--pretty</c>. Mapping issues go to stderr as codes and positions. Exit code 0 when every message converted,
/// 1 when any did not, 2 for a missing file or a bad profile.
/// </summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var files = new Argument<FileInfo[]>("files") { Description = "Files of HL7 v2 messages or batches.", Arity = ArgumentArity.OneOrMore };
        var profile = new Option<FileInfo?>("--profile") { Description = "A Trust profile (JSON, see config/examples/trust-profile.json)." };
        var pretty = new Option<bool>("--pretty") { Description = "Indent the JSON (one bundle after another) instead of one line per bundle." };
        var command = new Command("convert", "Map HL7 v2 files to FHIR R4 transaction Bundles and print them.") { files, profile, pretty };
        command.SetAction(async (parse, cancellationToken) =>
        {
            TrustProfile trust = TrustProfile.Default;
            if (parse.GetValue(profile) is { } profileFile)
            {
                try
                {
                    trust = TrustProfileLoader.Load(profileFile.FullName);
                }
                catch (TrustProfileException e)
                {
                    await Console.Error.WriteLineAsync("convert: " + e.Message);
                    return 2;
                }
            }

            var mapper = new MessageMapper(trust);
            bool indented = parse.GetValue(pretty);
            bool allConverted = true;
            await using Stream stdout = Console.OpenStandardOutput();
            foreach (FileInfo file in parse.GetValue(files)!)
            {
                if (!file.Exists)
                {
                    await Console.Error.WriteLineAsync($"convert: file not found: {file.FullName}");
                    return 2;
                }

                byte[] content = await File.ReadAllBytesAsync(file.FullName, cancellationToken);
                IEnumerable<ReadOnlyMemory<byte>> messages = Hl7Batch.IsBatch(content) && Hl7Batch.TryParse(content, out Hl7Batch? batch, out _)
                    ? batch!.Messages
                    : Hl7StreamReader.ReadAll(content);
                int index = 0;
                foreach (ReadOnlyMemory<byte> bytes in messages)
                {
                    index++;
                    if (!Hl7Parser.TryParse(bytes, out Hl7Message? message, out IReadOnlyList<Hl7Issue> parseIssues) || message is null)
                    {
                        await Console.Error.WriteLineAsync($"{file.Name}#{index}: not converted: {string.Join(", ", parseIssues)}");
                        allConverted = false;
                        continue;
                    }

                    MappingResult result;
                    try
                    {
                        result = mapper.Map(message);
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        // A mapper bug: this message is reported by the exception type (never its text) and the rest go on.
                        await Console.Error.WriteLineAsync($"{file.Name}#{index}: error MappingException:{e.GetType().Name}");
                        allConverted = false;
                        continue;
                    }

                    foreach (MappingIssue issue in result.Issues)
                    {
                        await Console.Error.WriteLineAsync($"{file.Name}#{index}: {(issue.IsError ? "error" : "warning")} {issue}");
                    }

                    if (result.Bundle is null)
                    {
                        allConverted = false;
                        continue;
                    }

                    await stdout.WriteAsync(FhirJson.Serialize(result.Bundle, indented), cancellationToken);
                    await stdout.WriteAsync("\n"u8.ToArray(), cancellationToken);
                }

                if (index == 0)
                {
                    await Console.Error.WriteLineAsync($"{file.Name}: no HL7 v2 message found");
                    allConverted = false;
                }
            }

            return allConverted ? 0 : 1;
        });
        return command;
    }
}
