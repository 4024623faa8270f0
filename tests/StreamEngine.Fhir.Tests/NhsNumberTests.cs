namespace StreamEngine.Fhir.Tests;

public sealed class NhsNumberTests
{
    [Theory]
    [InlineData("9990000018", "9990000018")]
    [InlineData("9990000026", "9990000026")]
    [InlineData("943 476 5919", "9434765919")]
    [InlineData("9449305552", "9449305552")]
    [InlineData("9990000034", "9990000034")]
    public void Normalise_ValidCheckDigit_ReturnsTenDigits(string input, string expected) => Assert.Equal(expected, NhsNumber.Normalise(input));

    [Theory]
    [InlineData("9990000019")]
    [InlineData("9990000000")]
    [InlineData("1234567890")]
    [InlineData("999000001")]
    [InlineData("99900000188")]
    [InlineData("99900000l8")]
    [InlineData("")]
    [InlineData(null)]
    public void Normalise_InvalidNumber_ReturnsNull(string? input) => Assert.Null(NhsNumber.Normalise(input));
}
