using System.Text.Json;

namespace StreamEngine.Fhir.Profiles;

/// <summary>
/// Reads a JSON configuration file (a Trust profile, a minimisation policy): comments and trailing commas allowed; a
/// file that cannot be read or is not JSON fails with the loader's own error, naming the file and the line.
/// </summary>
public static class JsonConfigFile
{
    /// <summary>Parses the file; <paramref name="error"/> makes the loader's exception from (file name, key, message).</summary>
    public static JsonDocument Parse(string path, Func<string, string, string, Exception> error)
    {
        string file = Path.GetFileName(path);
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw error(file, "(file)", "cannot be read: " + e.GetType().Name);
        }
        catch (JsonException e)
        {
            throw error(file, $"(line {e.LineNumber + 1})", "is not valid JSON");
        }
    }
}
