namespace StreamEngine.Fhir;

/// <summary>NHS number rules (NHS Data Dictionary): 10 digits, Modulus 11 check digit.</summary>
public static class NhsNumber
{
    /// <summary>The FHIR identifier system of the NHS number.</summary>
    public const string System = "https://fhir.nhs.uk/Id/nhs-number";

    /// <summary>
    /// Normalises (spaces removed) and checks an NHS number. Returns the 10 digits when the check digit holds,
    /// else null.
    /// </summary>
    public static string? Normalise(string? value)
    {
        if (value is null)
        {
            return null;
        }

        Span<char> digits = stackalloc char[10];
        int n = 0;
        foreach (char c in value)
        {
            if (c == ' ')
            {
                continue;
            }

            if (!char.IsAsciiDigit(c) || n == 10)
            {
                return null;
            }

            digits[n++] = c;
        }

        return n == 10 && IsValid(digits) ? new string(digits) : null;
    }

    /// <summary>True when ten digits carry a correct Modulus 11 check digit.</summary>
    public static bool IsValid(ReadOnlySpan<char> digits)
    {
        if (digits.Length != 10)
        {
            return false;
        }

        int sum = 0;
        for (int i = 0; i < 9; i++)
        {
            if (!char.IsAsciiDigit(digits[i]))
            {
                return false;
            }

            sum += (digits[i] - '0') * (10 - i);
        }

        int check = 11 - (sum % 11);
        if (check == 11)
        {
            check = 0;
        }

        return check != 10 && char.IsAsciiDigit(digits[9]) && check == digits[9] - '0';
    }
}
