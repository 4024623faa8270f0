using SharpFuzz;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fuzz;

/// <summary>
/// Coverage-guided fuzzing of the HL7 v2 parser, batch splitter, stream reader, editor and ACK builder with
/// SharpFuzz and AFL++ (see perf/fuzz.sh). Any exception escaping here is a finding: none of these may throw on input.
/// </summary>
public static class Program
{
    /// <summary>AFL++ drives this process through SharpFuzz's fork server; each input arrives as a stream.</summary>
    public static void Main(string[] args)
    {
        if (args.Length > 0)
        {
            // Replay mode: run the harness once over files (crash reproduction).
            foreach (string file in args)
            {
                Exercise(File.ReadAllBytes(file));
            }

            return;
        }

        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            Exercise(buffer.ToArray());
        });
    }

    private static void Exercise(byte[] input)
    {
        if (Hl7Parser.TryParse(input, out Hl7Message? message, out _) || message is not null)
        {
            for (int s = 0; s < message!.SegmentCount; s++)
            {
                Hl7Segment segment = message[s];
                for (int f = 1; f <= Math.Min(segment.FieldCount + 1, 40); f++)
                {
                    Hl7Value field = segment.Field(f);
                    _ = field.Repetition(2).Component(2).Subcomponent(2).ToString();
                    _ = field.ToString();
                }
            }

            _ = new Hl7MessageEditor(message).ToBytes();
            _ = new Hl7AckBuilder(DateTimeOffset.UnixEpoch).Build(message, "AA", new AckError(Hl7ErrorCode.DataTypeError, "PID", 1, 3), null, DateTimeOffset.UnixEpoch);
            _ = message.Get("PID-3(2).1");
        }
        else
        {
            _ = Hl7AckBuilder.LooseControlId(input);
        }

        if (Hl7Batch.TryParse(input, out Hl7Batch? batch, out _))
        {
            foreach (ReadOnlyMemory<byte> m in batch!.Messages)
            {
                Hl7Parser.TryParse(m, out _, out _);
            }
        }

        _ = Hl7StreamReader.ReadAll(input);
        _ = Hl7MessageSplitter.Split(input);
    }
}
