using Firely.Fhir.Validation;
using Hl7.Fhir.Model;
using Hl7.Fhir.Specification.Source;
using Hl7.Fhir.Specification.Terminology;

namespace StreamEngine.Fhir.Tests;

/// <summary>
/// The Firely validator against the base R4 specification, offline (the spec zip from Hl7.Fhir.Specification.Data.R4).
/// UK Core profiles named in meta.profile are not in the base spec; they are not followed (their extensions are
/// reported as warnings, never errors). One validator per test run: the first validation of a type takes seconds.
/// </summary>
public static class FhirValidation
{
    private static readonly Lazy<Validator> Instance = new(() =>
    {
        var resolver = new CachedResolver(ZipSource.CreateValidationSource());
        var settings = new ValidationSettings { SelectValidationProfiles = (_, _, _, _) => [] };
        return new Validator(resolver, new LocalTerminologyService(resolver), null, settings);
    });

    private static readonly Lock Gate = new();

    /// <summary>The error and fatal issues (with their location), empty when the resource is valid.</summary>
    public static IReadOnlyList<string> Errors(Resource resource)
    {
        OperationOutcome outcome;
        lock (Gate)
        {
            outcome = Instance.Value.Validate(resource);
        }

        return outcome.Issue
            .Where(i => i.Severity is OperationOutcome.IssueSeverity.Error or OperationOutcome.IssueSeverity.Fatal)
            .Select(i => $"{string.Join(",", i.Expression ?? i.Location ?? [])}: {i.Details?.Text ?? i.Diagnostics}")
            .ToList();
    }
}
