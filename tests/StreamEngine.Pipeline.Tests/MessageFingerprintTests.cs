using StreamEngine.Hl7v2;
using StreamEngine.Pipeline.Ingest;

namespace StreamEngine.Pipeline.Tests;

public sealed class MessageFingerprintTests
{
    private static long Hash(string text) => MessageFingerprint.ContentHash(System.Text.Encoding.ASCII.GetBytes(text));

    [Fact]
    public void ContentHash_IgnoresMsh7_AndHowSegmentsEnd()
    {
        long original = Hash("MSH|^~\\&|PAS|RX1|R|RX1|20260101120000||ADT^A01|C1|P|2.4\rPID|1||M1^^^R^MR\r");
        Assert.Equal(original, Hash("MSH|^~\\&|PAS|RX1|R|RX1|20260101120500||ADT^A01|C1|P|2.4\r\nPID|1||M1^^^R^MR\r\n"));
        Assert.Equal(original, Hash("MSH|^~\\&|PAS|RX1|R|RX1|||ADT^A01|C1|P|2.4\nPID|1||M1^^^R^MR"));
        Assert.Equal(original, Hash("MSH|^~\\&|PAS|RX1|R|RX1|2026||ADT^A01|C1|P|2.4\r\rPID|1||M1^^^R^MR\r\r"));
    }

    [Fact]
    public void ContentHash_SeesEveryOtherChange()
    {
        long original = Hash("MSH|^~\\&|PAS|RX1|R|RX1|2026||ADT^A01|C1|P|2.4\rPID|1||M1^^^R^MR\r");
        Assert.NotEqual(original, Hash("MSH|^~\\&|PAS|RX1|R|RX1|2026||ADT^A08|C1|P|2.4\rPID|1||M1^^^R^MR\r"));
        Assert.NotEqual(original, Hash("MSH|^~\\&|PAS|RX1|R|RX1|2026||ADT^A01|C1|P|2.4\rPID|1||M2^^^R^MR\r"));
        Assert.NotEqual(original, Hash("MSH|^~\\&|PAS|RX2|R|RX1|2026||ADT^A01|C1|P|2.4\rPID|1||M1^^^R^MR\r"));
        Assert.NotEqual(original, Hash("MSH|^~\\&|PAS|RX1|R|RX1|2026||ADT^A01|C1|P|2.4\rPID|1||M1^^^R^MR\rPV1|1\r"));
    }

    [Fact]
    public void KeyHash_SeparatesItsParts()
    {
        Assert.NotEqual(MessageFingerprint.KeyHash("AB", "C", "1"), MessageFingerprint.KeyHash("A", "BC", "1"));
        Assert.Equal(MessageFingerprint.KeyHash("PAS", "RX1", "C1"), MessageFingerprint.KeyHash("PAS", "RX1", "C1"));
    }

    [Theory]
    [InlineData("PID|1||M1^^^R^MR~9434765919^^^NHS^NH", "mrn:M1")]
    [InlineData("PID|1||9434765919^^^NHS^NH~L7^^^R^PI", "mrn:L7")]
    [InlineData("PID|1||943 476 5919^^^NHS^NH", "nhs:9434765919")]
    [InlineData("PID|1||", null)]
    public void PatientKey_PrefersTheMrn_ThenTheNhsNumber(string pid, string? expected)
    {
        Assert.True(Hl7Parser.TryParse(System.Text.Encoding.ASCII.GetBytes($"MSH|^~\\&|A|B|||2026||ADT^A01|1|P|2.4\r{pid}\r"), out Hl7Message? m, out _));
        Assert.Equal(expected, PatientKey.Of(m!));
    }

    [Fact]
    public void PatientKeyHash_IsKeyed()
    {
        var a = new PatientKeyHasher([.. Enumerable.Repeat((byte)1, 32)]);
        var b = new PatientKeyHasher([.. Enumerable.Repeat((byte)2, 32)]);
        Assert.Equal(a.Hash("mrn:M1"), a.Hash("mrn:M1"));
        Assert.NotEqual(a.Hash("mrn:M1"), b.Hash("mrn:M1"));
        Assert.DoesNotContain("M1", a.Hash("mrn:M1"), StringComparison.Ordinal);
        Assert.Equal(string.Empty, a.Hash(null));
    }

    [Fact]
    public async Task PatientKeyHash_IsTheFirstHalfOfTheHmacSha256_OnEveryThread()
    {
        // Journals and indexes hold these hashes: how they are computed may change, their values may not.
        byte[] key = [.. Enumerable.Range(0, 32).Select(i => (byte)i)];
        var hasher = new PatientKeyHasher(key);
        string Expected(string value) =>
            Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(key, System.Text.Encoding.UTF8.GetBytes(value))[..16]);

        string[] keys = [.. Enumerable.Range(0, 200).Select(i => $"mrn:P{i:D8}"), "nhs:9434765919", "mrn:Ünïcødé"];
        string[][] results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => keys.Select(hasher.Hash).ToArray())));
        foreach (string[] result in results)
        {
            Assert.Equal(keys.Select(Expected), result);
        }
    }
}
