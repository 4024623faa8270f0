using System.Data.Common;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Data.Sqlite;
using StreamEngine.Pipeline.Index;

namespace StreamEngine.Host;

/// <summary>
/// Reads the message index's window at a start through SQLite's own functions, in the library Microsoft.Data.Sqlite
/// loaded (the same instance: its handle is asked for exactly as that library's provider asks for it). ADO.NET's reader
/// checks each value's type and takes the statement's handle twice per column: for a million rows of four integers
/// that was ~0.5 s of a restart's ~1.2 s read. The scan reads each page once, so it runs with a small page cache: filling
/// the connection's usual 64 MB with pages read once cost another ~0.3 s of page faults on a virtual machine.
/// </summary>
internal sealed unsafe class SqliteRowReader : IIndexRowReader
{
    private const int Ok = 0, Busy = 5, Locked = 6, Row = 100, Done = 101;
    private static readonly IntPtr Transient = new(-1); // SQLITE_TRANSIENT: SQLite copies a bound text

    private static readonly Lazy<Functions?> Native = new(Bind);

    /// <summary>The reader (stateless; the library's functions are looked up once).</summary>
    public static SqliteRowReader Instance { get; } = new();

    /// <inheritdoc />
    public bool TryRead(DbConnection connection, string sql, string stream, long since, Action<long, long, long, long> row)
    {
        if (connection is not SqliteConnection { Handle: { } db } sqlite || Native.Value is not { } f)
        {
            return false;
        }

        // The connection stays open for the whole read, and with it the handle.
        IntPtr handle = db.DangerousGetHandle();
        IntPtr statement;
        byte[] text = Encoding.UTF8.GetBytes(sql);
        fixed (byte* p = text)
        {
            if (f.Prepare(handle, p, text.Length, &statement, null) != Ok)
            {
                return false; // ADO.NET prepares it again and reports the error its own way
            }
        }

        long? cacheSize = null;
        try
        {
            cacheSize = CacheSize(sqlite, null);
            CacheSize(sqlite, ScanCache);
            byte[] value = Encoding.UTF8.GetBytes(stream);
            fixed (byte* p = value)
            fixed (byte* streamName = "@stream\0"u8)
            fixed (byte* sinceName = "@since\0"u8)
            {
                if (f.BindText(statement, f.ParameterIndex(statement, streamName), p, value.Length, Transient) != Ok
                    || f.BindInt64(statement, f.ParameterIndex(statement, sinceName), since) != Ok)
                {
                    return false;
                }
            }

            bool any = false;
            while (true)
            {
                int rc = f.Step(statement);
                if (rc == Row)
                {
                    any = true;
                    row(f.ColumnInt64(statement, 0), f.ColumnInt64(statement, 1), f.ColumnInt64(statement, 2), f.ColumnInt64(statement, 3));
                }
                else if (rc == Done)
                {
                    return true;
                }
                else if (!any && (rc & 0xFF) is Busy or Locked)
                {
                    return false; // nothing given yet: ADO.NET's reader waits out a lock for its command timeout
                }
                else
                {
                    SqliteException.ThrowExceptionForRC(rc, db); // SQLite's message for the code, no row content
                    return false;
                }
            }
        }
        finally
        {
            f.FinalizeStatement(statement);
            if (cacheSize is long size)
            {
                RestoreCacheSize(sqlite, size);
            }
        }
    }

    private const long ScanCache = -2048; // KiB

    // As it was, for the connection's next user (connections are pooled; the index's opener also sets it at each open,
    // so a failure here must not hide the read's own).
    private static void RestoreCacheSize(SqliteConnection connection, long size)
    {
        try
        {
            CacheSize(connection, size);
        }
        catch (SqliteException)
        {
        }
    }

    // Reads the connection's page cache size, or sets it.
    private static long CacheSize(SqliteConnection connection, long? set)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = set is long size ? $"PRAGMA cache_size={size}" : "PRAGMA cache_size";
        return Convert.ToInt64(command.ExecuteScalar() ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
    }

    // The functions of the library Microsoft.Data.Sqlite uses, or null (another provider than the bundled e_sqlite3, or
    // a platform where it cannot be found): then ADO.NET reads.
    private static Functions? Bind()
    {
        try
        {
            if (SQLitePCL.raw.GetNativeLibraryName() != "e_sqlite3")
            {
                return null;
            }

            // Resolved as the provider's own [DllImport("e_sqlite3")] is: the same file, so the same loaded library.
            if (!NativeLibrary.TryLoad("e_sqlite3", typeof(SQLitePCL.SQLite3Provider_e_sqlite3).Assembly, null, out IntPtr library))
            {
                return null;
            }

            return new Functions(library);
        }
        catch (Exception)
        {
            return null; // whatever went wrong here, ADO.NET still reads (a cached exception would fail every start)
        }
    }

    private sealed class Functions(IntPtr library)
    {
        public readonly delegate* unmanaged[Cdecl]<IntPtr, byte*, int, IntPtr*, byte**, int> Prepare =
            (delegate* unmanaged[Cdecl]<IntPtr, byte*, int, IntPtr*, byte**, int>)NativeLibrary.GetExport(library, "sqlite3_prepare_v2");

        public readonly delegate* unmanaged[Cdecl]<IntPtr, byte*, int> ParameterIndex =
            (delegate* unmanaged[Cdecl]<IntPtr, byte*, int>)NativeLibrary.GetExport(library, "sqlite3_bind_parameter_index");

        public readonly delegate* unmanaged[Cdecl]<IntPtr, int, byte*, int, IntPtr, int> BindText =
            (delegate* unmanaged[Cdecl]<IntPtr, int, byte*, int, IntPtr, int>)NativeLibrary.GetExport(library, "sqlite3_bind_text");

        public readonly delegate* unmanaged[Cdecl]<IntPtr, int, long, int> BindInt64 =
            (delegate* unmanaged[Cdecl]<IntPtr, int, long, int>)NativeLibrary.GetExport(library, "sqlite3_bind_int64");

        public readonly delegate* unmanaged[Cdecl]<IntPtr, int> Step =
            (delegate* unmanaged[Cdecl]<IntPtr, int>)NativeLibrary.GetExport(library, "sqlite3_step");

        public readonly delegate* unmanaged[Cdecl]<IntPtr, int, long> ColumnInt64 =
            (delegate* unmanaged[Cdecl]<IntPtr, int, long>)NativeLibrary.GetExport(library, "sqlite3_column_int64");

        public readonly delegate* unmanaged[Cdecl]<IntPtr, int> FinalizeStatement =
            (delegate* unmanaged[Cdecl]<IntPtr, int>)NativeLibrary.GetExport(library, "sqlite3_finalize");
    }
}
