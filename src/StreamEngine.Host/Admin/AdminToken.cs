using System.Security.Cryptography;
using System.Text;
using StreamEngine.Pipeline;

namespace StreamEngine.Host.Admin;

/// <summary>The admin endpoint's bearer token: read from its file, which is created (mode 0600) with a random token when missing.</summary>
public static class AdminToken
{
    /// <summary>Reads the token, creating the file first if needed.</summary>
    public static string LoadOrCreate(string path)
    {
        string full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            SecretFile.Create(full, Encoding.ASCII.GetBytes(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)) + "\n"));
        }

        return Read(full);
    }

    /// <summary>Reads an existing token file.</summary>
    public static string Read(string path)
    {
        string token = File.ReadAllText(path).Trim();
        if (token.Length < 16)
        {
            throw new InvalidOperationException($"The admin token file '{path}' holds fewer than 16 characters.");
        }

        return token;
    }

    /// <summary>Compares a presented token with the expected one in constant time.</summary>
    public static bool Matches(string expected, string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(presented));
}
