using System.Text.Json;

namespace StreamEngine.Sinks.Ndjson;

/// <summary>
/// Appends one JSON document per line to a file. Resumable: <see cref="Open"/> repairs a line torn by a crash
/// (truncates to the last complete line) and reports the delivery id of the last complete line, so a restarted
/// sink skips what it already wrote. Single writer; not thread-safe.
/// </summary>
public sealed class NdjsonFileSink : IDisposable
{
    private const int TailProbe = 64 * 1024;
    private readonly string _path;
    // Output handed to the OS is released from the page cache in steps of this size when no fsync comes to do it (a
    // replay's file until its end, every file in `os` durability).
    private const long WritebackStep = 8 * 1024 * 1024;
    private FileStream? _stream;
    private long _released;
    private long _writebackEnd; // where the writeback this writer last asked for without an fsync ends
    private long _writebackBefore; // where the one before it ended: released at the next step, so a slow disk has a step's time

    /// <summary>Creates a sink writing to <paramref name="path"/>; nothing is opened until <see cref="Open"/>.</summary>
    public NdjsonFileSink(string path)
    {
        _path = Path.GetFullPath(path);
    }

    /// <summary>Bytes in the file, including lines not yet flushed.</summary>
    public long Position => _stream?.Position ?? 0;

    /// <summary>
    /// After <see cref="Open"/>: the <c>meta.source</c> of every complete line from a byte offset on (a position this
    /// writer reported earlier); from the start when the file is now shorter than that (replaced or truncated).
    /// </summary>
    public IReadOnlyList<string> SourcesFrom(long offset)
    {
        FileStream stream = _stream ?? throw new InvalidOperationException("The sink is not open.");
        long end = stream.Length;
        var sources = new List<string>();
        stream.Position = offset <= end ? offset : 0;
        using (var reader = new StreamReader(stream, System.Text.Encoding.UTF8, false, 1 << 16, leaveOpen: true))
        {
            while (reader.ReadLine() is { } line)
            {
                if (ReadMetaSource(System.Text.Encoding.UTF8.GetBytes(line)) is { } id)
                {
                    sources.Add(id);
                }
            }
        }

        stream.Position = end;
        return sources;
    }

    /// <summary>The file written.</summary>
    public string FilePath => _path;

    /// <summary>
    /// Opens the file for appending (creating folders as needed), truncates a torn last line, and returns the
    /// <c>meta.source</c> of the last complete line (the delivery id the writer stamped), or null for an empty file.
    /// </summary>
    public string? Open()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        _stream = new FileStream(_path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, 64 * 1024, FileOptions.None);
        long length = _stream.Length;
        string? lastId = null;
        if (length > 0)
        {
            long completeEnd = FindLastNewline(_stream, length) + 1; // 0 when no complete line
            if (completeEnd < length)
            {
                _stream.SetLength(completeEnd); // a torn write from a crash: it is rewritten from the journal
                _stream.Flush(flushToDisk: true);
            }

            if (completeEnd > 0)
            {
                long start = FindLastNewline(_stream, completeEnd - 1) + 1;
                var line = new byte[completeEnd - 1 - start];
                _stream.Position = start;
                _stream.ReadExactly(line);
                lastId = ReadMetaSource(line);
            }
        }

        _stream.Position = _stream.Length;
        return lastId;
    }

    /// <summary>Appends one line (the document must not contain a raw newline; compact JSON never does).</summary>
    public void Append(ReadOnlySpan<byte> json)
    {
        FileStream stream = _stream ?? throw new InvalidOperationException("The sink is not open.");
        stream.Write(json);
        stream.WriteByte((byte)'\n');
        if (OperatingSystem.IsLinux() && stream.Position - Math.Max(_writebackEnd, _released) >= WritebackStep)
        {
            // A long run with no flush (a replay's file is flushed at its end): handed to the OS, then released in steps.
            stream.Flush(flushToDisk: false);
            ReleaseWrittenBack(stream);
        }
    }

    /// <summary>
    /// Hands buffered lines to the OS; with <paramref name="durable"/>, also waits for the disk (fsync), and then lets the
    /// OS drop the synced part of the file from its page cache (see <see cref="ReleaseSynced"/>).
    /// </summary>
    public void Flush(bool durable)
    {
        if (_stream is not { } stream)
        {
            return;
        }

        stream.Flush(flushToDisk: durable);
        if (durable)
        {
            ReleaseSynced(stream, stream.Position);
        }
        else
        {
            ReleaseWrittenBack(stream);
        }
    }

    // A sink's output is written once and read again only after a restart (the tail) or by another process later: once
    // on disk, its pages only crowd the page cache (each message adds ~8 KB of FHIR JSON), and each new page the kernel
    // has to find for the next write costs more than reusing a freed one (perf/RESULTS.md). Advisory: nothing depends on it.
    private void ReleaseSynced(FileStream stream, long synced)
    {
        if (!OperatingSystem.IsLinux() || synced <= _released)
        {
            return;
        }

        try
        {
            _ = PosixFadvise(stream.SafeFileHandle, _released, synced - _released, FadviseDontNeed);
            _released = synced;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            _released = long.MaxValue; // no such call here: never again
        }
    }

    // Without an fsync (a replay's file until it ends, any file in `os` durability) the pages would pile up dirty in the
    // page cache: every WritebackStep of output, the writer asks the kernel to start writing the new step back (it
    // does not wait), and releases the step it asked for two steps ago, by now on disk, or left cached if not (the call
    // only drops clean pages). Nothing about durability changes: no fsync is implied or skipped.
    private void ReleaseWrittenBack(FileStream stream)
    {
        long written = stream.Position;
        if (!OperatingSystem.IsLinux() || _released == long.MaxValue || written - Math.Max(_writebackEnd, _released) < WritebackStep)
        {
            return;
        }

        try
        {
            ReleaseSynced(stream, _writebackBefore);
            long from = Math.Max(_writebackEnd, _released);
            _ = SyncFileRange(stream.SafeFileHandle, from, written - from, SyncFileRangeWrite);
            _writebackBefore = _writebackEnd;
            _writebackEnd = written;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            _released = long.MaxValue; // no such call here: never again
        }
    }

    private const int FadviseDontNeed = 4; // POSIX_FADV_DONTNEED on Linux
    private const uint SyncFileRangeWrite = 2; // SYNC_FILE_RANGE_WRITE: start writeback, do not wait

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "posix_fadvise", SetLastError = false)]
    private static extern int PosixFadvise(Microsoft.Win32.SafeHandles.SafeFileHandle fd, long offset, long length, int advice);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "sync_file_range", SetLastError = false)]
    private static extern int SyncFileRange(Microsoft.Win32.SafeHandles.SafeFileHandle fd, long offset, long length, uint flags);

    /// <inheritdoc />
    public void Dispose()
    {
        FileStream? stream = _stream;
        _stream = null;
        if (stream is null)
        {
            return;
        }

        try
        {
            stream.Flush(flushToDisk: true);
            ReleaseSynced(stream, stream.Position); // a closed file (a rotation, a replay's end) leaves the page cache too
        }
        finally
        {
            try
            {
                stream.Dispose();
            }
            catch (IOException)
            {
                // The buffered tail could not be written: dropped here, re-sent from the journal after a restart.
            }
        }
    }

    /// <summary>Reads <c>meta.source</c> of a top-level JSON object; null when absent or the line is not JSON.</summary>
    public static string? ReadMetaSource(ReadOnlySpan<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("meta"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        return null;
                    }

                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        bool isSource = reader.ValueTextEquals("source"u8);
                        reader.Read();
                        if (isSource)
                        {
                            return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                        }

                        reader.Skip();
                    }

                    return null;
                }

                reader.Read();
                reader.Skip();
            }
        }
        catch (JsonException)
        {
            // A line that is not JSON carries no id; the caller treats the file as having none.
        }

        return null;
    }

    // Offset of the last '\n' strictly before 'end', or -1.
    private static long FindLastNewline(FileStream stream, long end)
    {
        var buffer = new byte[(int)Math.Min(TailProbe, Math.Max(end, 1))];
        long pos = end;
        while (pos > 0)
        {
            int n = (int)Math.Min(buffer.Length, pos);
            pos -= n;
            stream.Position = pos;
            stream.ReadExactly(buffer, 0, n);
            int at = buffer.AsSpan(0, n).LastIndexOf((byte)'\n');
            if (at >= 0)
            {
                return pos + at;
            }
        }

        return -1;
    }
}
