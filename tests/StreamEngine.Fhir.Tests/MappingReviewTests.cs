using Hl7.Fhir.Model;
using StreamEngine.Fhir.Profiles;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;
using StreamEngine.TestKit;

namespace StreamEngine.Fhir.Tests;

/// <summary>Regression tests for the defects an independent review of the mapping found.</summary>
public sealed class MappingReviewTests : IDisposable
{
    private static readonly MessageMapper Mapper = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("se-review-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static MappingResult Map(params string[] segments) => Map(Mapper, segments);

    private static MappingResult Map(MessageMapper mapper, params string[] segments)
    {
        Assert.True(Hl7Parser.TryParse(TestData.Message(segments), out Hl7Message? message, out _));
        return mapper.Map(message!);
    }

    private static IEnumerable<T> All<T>(MappingResult result) => result.Bundle!.Entry.Select(e => e.Resource).OfType<T>();

    [Fact]
    public void ObservationKeys_AreScopedByTheOrderSystem_AndTheTest_NotThePosition()
    {
        MappingResult lab = Map(@"MSH|^~\&|WINPATH|RX1|X|Y|20261201||ORU^R01|L1|P|2.4", "PID|1||M1^^^R0B^MR",
            "OBR|1||12345^WINPATH|FBC", "OBX|1|NM|WBC||5|||||||F", "OBX|2|NM|HB||130|||||||F");
        MappingResult order = Map(@"MSH|^~\&|ICE|RX1|X|Y|20261201||OML^O21|O1|P|2.5", "PID|1||M2^^^R0B^MR",
            "ORC|NW|12345^ICE", "OBR|1|12345^ICE||FBC", "OBX|1|ST|WBC||asked at order entry|||||||F");
        Identifier[] labKeys = All<Observation>(lab).Select(o => o.Identifier[0]).ToArray();
        Identifier orderKey = All<Observation>(order).Single().Identifier[0];
        Assert.DoesNotContain(labKeys, k => k.System == orderKey.System && k.Value == orderKey.Value); // another order, another patient

        // A corrected report that sends its OBX in another order upserts the same Observations.
        MappingResult corrected = Map(@"MSH|^~\&|WINPATH|RX1|X|Y|20261202||ORU^R01|L2|P|2.4", "PID|1||M1^^^R0B^MR",
            "OBR|1||12345^WINPATH|FBC||||||||||||||||||||C", "OBX|1|NM|HB||131|||||||C", "OBX|2|NM|WBC||5|||||||C");
        Assert.Equal(labKeys.Select(k => k.Value).Order(), All<Observation>(corrected).Select(o => o.Identifier[0].Value).Order());
    }

    [Fact]
    public void TwoApplicationsOfOneTrust_WithTheSameControlId_DoNotShareIdentities()
    {
        MappingResult pas = Map(@"MSH|^~\&|PAS|RX1|X|Y|20261201||ADT^A01|5001|P|2.4", "PID|1||M1^^^R0B^MR", "AL1|1|DA|PEN");
        MappingResult ed = Map(@"MSH|^~\&|EDIS|RX1|X|Y|20261201||ADT^A01|5001|P|2.4", "PID|1||M2^^^R0B^MR", "AL1|1|DA|NUT");
        Assert.NotEqual(pas.Bundle!.Identifier.System, ed.Bundle!.Identifier.System);
        Assert.NotEqual(All<AllergyIntolerance>(pas).Single().Identifier[0].Value, All<AllergyIntolerance>(ed).Single().Identifier[0].Value);
        Assert.NotEqual(pas.Bundle.Entry.Last().FullUrl, ed.Bundle.Entry.Last().FullUrl); // the Provenance
    }

    [Fact]
    public void EmptyControlId_IsAnError()
    {
        MappingResult result = Map(@"MSH|^~\&|PAS|RX1|X|Y|20261201||ADT^A01||P|2.4", "PID|1||M1^^^R0B^MR");
        Assert.False(result.Succeeded);
        Assert.Contains(result.Issues, i => i.Code == MappingIssueCode.MissingControlId && i.IsError);
    }

    [Fact]
    public void NoVisitNumber_NoEncounter_AndPersonEventsNeverHaveOne()
    {
        MappingResult result = Map(@"MSH|^~\&|PAS|RX1|X|Y|20261201||ORU^R01|R1|P|2.4", "PID|1||M1^^^R0B^MR", "PV1|1|I|WD1", "OBR|1||F1|X", "OBX|1|ST|A||b|||||||F");
        Assert.Empty(All<Encounter>(result));
        Assert.Contains(result.Issues, i => i.Code == MappingIssueCode.MissingVisitNumber);
        Assert.Empty(All<Encounter>(Map(@"MSH|^~\&|PAS|RX1|X|Y|20261201||ADT^A31|P1|P|2.4", "PID|1||M1^^^R0B^MR", "PV1|1|I|WD1||||||||||||||||V1^^^R0B")));
    }

    [Fact]
    public void ChiNumber_IsNotEmittedAsAnNhsNumber()
    {
        Patient patient = All<Patient>(Map(@"MSH|^~\&|PAS|RX1|X|Y|20261201||ADT^A28|C1|P|2.4", "PID|1||M1^^^R0B^MR~0101801238^^^CHI^NH")).Single();
        Assert.DoesNotContain(patient.Identifier, i => i.System == NhsNumber.System);
        Assert.Contains(patient.Identifier, i => i.Value == "0101801238");
    }

    [Fact]
    public void A17_EachVisitGetsItsOwnPv2_AndZRulesStayWithTheirPatient()
    {
        string profileFile = Path.Combine(_dir, "p.json");
        File.WriteAllText(profileFile, """{ "zSegments": [ { "segment": "ZU8", "field": 4, "target": "security", "when": ["2"], "code": "R" } ] }""");
        var mapper = new MessageMapper(TrustProfileLoader.Load(profileFile));
        MappingResult result = Map(mapper, @"MSH|^~\&|PAS|RX1|X|Y|20261201||ADT^A17|S1|P|2.4",
            "PID|1||A1^^^R0B^MR", "PV1|1|I|WD1||||||||||||||||VA^^^R0B", "PV2|||R1^Reason one", "ZU8||||2",
            "PID|2||B2^^^R0B^MR", "PV1|1|I|WD2||||||||||||||||VB^^^R0B");
        Encounter[] encounters = All<Encounter>(result).ToArray();
        Assert.Equal("R1", encounters[0].ReasonCode.Single().Coding[0].Code);
        Assert.Empty(encounters[1].ReasonCode);
        Patient[] patients = All<Patient>(result).ToArray();
        Assert.Equal("R", patients[0].Meta.Security.Single().Code);
        Assert.Empty(patients[1].Meta.Security);
    }

    [Fact]
    public void Merge_KeysTheRetiredRecordAsItsPatientWasKeyed()
    {
        string profileFile = Path.Combine(_dir, "mrn.json");
        File.WriteAllText(profileFile, """{ "mrn": { "assigningAuthority": "R0B" } }""");
        var mapper = new MessageMapper(TrustProfileLoader.Load(profileFile));
        MappingResult created = Map(mapper, @"MSH|^~\&|PAS|RX1|X|Y|20261201||ADT^A28|M1|P|2.4", "PID|1||A1^^^R0BAE^MR~B2^^^R0B^MR");
        MappingResult merged = Map(mapper, @"MSH|^~\&|PAS|RX1|X|Y|20261202||ADT^A40|M2|P|2.4", "PID|1||C3^^^R0B^MR", "MRG|A1^^^R0BAE^MR~B2^^^R0B^MR");
        string createdUrl = created.Bundle!.Entry.Single(e => e.Resource is Patient).Request.Url;
        Assert.Contains(merged.Bundle!.Entry, e => e.Resource is Patient { Active: false } && e.Request.Url == createdUrl);
    }

    [Fact]
    public void AnMrnAuthorityNoIdentifierCarries_KeysOnTheFirstMr_WithAWarning()
    {
        string profileFile = Path.Combine(_dir, "mrn.json");
        File.WriteAllText(profileFile, """{ "mrn": { "assigningAuthority": "R0B" } }""");
        var mapper = new MessageMapper(TrustProfileLoader.Load(profileFile));
        var warning = new MappingIssue(MappingIssueCode.MrnAuthorityNotFound, "PID", 3, false);

        MappingResult other = Map(mapper, @"MSH|^~\&|PAS|RX1|X|Y|20261201||ADT^A28|W1|P|2.4", "PID|1||X9^^^ZZZ^PI~A1^^^R0BAE^MR~B2^^^R0C^MR");
        Assert.Equal([warning], other.Issues);
        Assert.EndsWith("|A1", other.Bundle!.Entry.Single(e => e.Resource is Patient).Request.Url, StringComparison.Ordinal);

        MappingResult matched = Map(mapper, @"MSH|^~\&|PAS|RX1|X|Y|20261201||ADT^A28|W2|P|2.4", "PID|1||A1^^^R0BAE^MR~B2^^^r0b^MR");
        Assert.Empty(matched.Issues);
        Assert.EndsWith("|B2", matched.Bundle!.Entry.Single(e => e.Resource is Patient).Request.Url, StringComparison.Ordinal);

        // The retired record of a merge is keyed by the same rule, and warned of at its own place.
        MappingResult merged = Map(mapper, @"MSH|^~\&|PAS|RX1|X|Y|20261202||ADT^A40|W3|P|2.4", "PID|1||C3^^^R0B^MR", "MRG|A1^^^R0BAE^MR");
        Assert.Equal([warning with { Segment = "MRG", Field = 1 }], merged.Issues);

        // Without an authority in the profile, the first MR is the rule, not a fallback: no warning.
        Assert.Empty(Map(new MessageMapper(), @"MSH|^~\&|PAS|RX1|X|Y|20261201||ADT^A28|W4|P|2.4", "PID|1||A1^^^R0BAE^MR").Issues);
    }

    [Fact]
    public void ResultsInterpreter_IsReadFromSubcomponents()
    {
        DiagnosticReport report = All<DiagnosticReport>(Map(@"MSH|^~\&|LAB|RX1|X|Y|20261201||ORU^R01|I1|P|2.4", "PID|1||M1^^^R0B^MR",
            "OBR|1||F1|X|||||||||||||||||||||F|||||||1234567&Jones&Ann")).Single();
        ResourceReference who = report.ResultsInterpreter.Single();
        Assert.Equal("1234567", who.Identifier.Value);
        Assert.Equal("Ann Jones", who.Display);
    }

    [Fact]
    public void AbsurdAppointmentDuration_DoesNotThrow()
    {
        MappingResult result = Map(@"MSH|^~\&|PAS|RX1|X|Y|20261201||SIU^S12|A1|P|2.4", "SCH|A1|F1", "PID|1||M1^^^R0B^MR",
            "AIS|1||X|20261215093000|||1E28|min");
        Assert.True(result.Succeeded, string.Join(",", result.Issues));
    }

    [Theory]
    [InlineData("2", "h", 120)]
    [InlineData("45", "", 45)]
    [InlineData("45", "min", 45)]
    [InlineData("120", "s", 2)]
    [InlineData("90", "s", null)] // not whole minutes: left out
    [InlineData("3", "wk", null)] // a unit not known here: left out, with a warning
    [InlineData("0.2", "HR^hours^ISO+", 12)]
    [InlineData("2", "^hours", null)] // a unit as text only: not guessed at
    public void AppointmentDuration_IsInMinutes_WhateverUnitSch10Gives(string amount, string unit, int? expected)
    {
        MappingResult result = Map(@"MSH|^~\&|PAS|RX1|X|Y|20261201||SIU^S12|A1|P|2.4",
            $"SCH|A1|F1||||||ROUTINE|{amount}|{unit}|^^^20261215093000", "PID|1||M1^^^R0B^MR");
        Assert.True(result.Succeeded, string.Join(",", result.Issues));
        Assert.Equal(expected, All<Appointment>(result).Single().MinutesDuration);
        Assert.Equal(unit is "wk" or "^hours", result.Issues.Any(i => i.Code == MappingIssueCode.UnknownUnit));
    }

    [Theory]
    [InlineData("RAD", false, "imaging")]
    [InlineData("HM", true, "laboratory")]
    [InlineData("", true, "laboratory")] // no section: a laboratory feed, as most are
    [InlineData("EC", false, null)]
    [InlineData("HAEM", true, "laboratory")] // local codes UK feeds use
    [InlineData("biochem", true, "laboratory")]
    [InlineData("XR", false, "imaging")]
    [InlineData("MR", false, "imaging")] // a DICOM modality
    public void ResultsAndOrders_AreLaboratoryOnlyWhenObr24SaysSo(string section, bool laboratory, string? observationCategory)
    {
        MappingResult results = Map(@"MSH|^~\&|RIS|RX1|X|Y|20261201||ORU^R01|R1|P|2.4", "PID|1||M1^^^R0B^MR",
            $"OBR|1|PL1|FI1|CTHEAD^CT Head^L|||20261201090000|||||||||||||||||{section}|F", "OBX|1|TX|REPORT^Report^L||No acute abnormality||||||F");
        Assert.True(results.Succeeded, string.Join(",", results.Issues));
        DiagnosticReport report = All<DiagnosticReport>(results).Single();
        Observation observation = All<Observation>(results).Single();
        Assert.Equal(laboratory ? UkCore.DiagnosticReportLabProfile : UkCore.DiagnosticReportProfile, report.Meta.Profile.Single());
        Assert.Equal(laboratory, report.Category.Any(c => c.Coding.Any(x => x.Code == "LAB")));
        Assert.Equal(section.Length > 0 && section != "LAB", report.Category.Any(c => c.Coding.Any(x => x.Code == section)));
        Assert.Equal(laboratory ? UkCore.ObservationLabProfile : UkCore.ObservationProfile, observation.Meta.Profile.Single());
        Assert.Equal(observationCategory, observation.Category.SelectMany(c => c.Coding).SingleOrDefault()?.Code);
        Assert.Empty(FhirValidation.Errors(results.Bundle!));

        MappingResult order = Map(@"MSH|^~\&|EPR|RX1|X|Y|20261201||ORM^O01|O1|P|2.4", "PID|1||M1^^^R0B^MR", "ORC|NW|PL1",
            $"OBR|1|PL1||CTHEAD^CT Head^L|||20261201090000|||||||||||||||||{section}");
        Assert.True(order.Succeeded, string.Join(",", order.Issues));
        ServiceRequest request = All<ServiceRequest>(order).Single();
        Assert.Equal(laboratory ? UkCore.ServiceRequestLabProfile : UkCore.ServiceRequestProfile, request.Meta.Profile.Single());
        Assert.Equal(laboratory ? "108252007" : observationCategory == "imaging" ? "363679005" : null, request.Category.SelectMany(c => c.Coding).SingleOrDefault()?.Code);
    }

    [Fact]
    public void ANoteOnTheReport_IsKept_AsUkCoresDiagnosticReportNote()
    {
        MappingResult result = Map(@"MSH|^~\&|LAB|RX1|X|Y|20261201||ORU^R01|R1|P|2.4", "PID|1||M1^^^R0B^MR",
            "OBR|1|PL1|FI1|FBC^Full blood count^L|||20261201090000", "NTE|1|L|Sample slightly haemolysed",
            "OBX|1|NM|HB^Haemoglobin^L||135|g/L|||||F", "NTE|1|L|Repeat advised",
            "OBX|2|NM|||99|g/L|||||F", "NTE|1|L|On a result that has no code"); // skipped (no OBX-3): its note is not the report's
        Assert.True(result.Succeeded, string.Join(",", result.Issues));
        Extension note = All<DiagnosticReport>(result).Single().Extension.Single(e => e.Url == UkCore.DiagnosticReportNoteExtension);
        Assert.Equal("Sample slightly haemolysed", ((Annotation)note.Value).Text);
        Assert.Equal("Repeat advised", All<Observation>(result).Single().Note.Single().Text); // the OBX's own note stays on it
        Assert.Empty(FhirValidation.Errors(result.Bundle!));
        Assert.Equal(System.Text.Encoding.UTF8.GetString(FhirJson.SerializeWithFirely(result.Bundle!)), System.Text.Encoding.UTF8.GetString(FhirJson.Serialize(result.Bundle!)));
    }

    [Fact]
    public void MdmDocumentDate_IsTheOriginationTime_Txa6()
    {
        MappingResult result = Map(@"MSH|^~\&|EPR|RX1|X|Y|20261201||MDM^T02|D1|P|2.5", "EVN|T02|20261201", "PID|1||M1^^^R0B^MR",
            "PV1|1|O", "TXA|1|DI|TX|202612010900||202612011000|||||||DOC1||||AU||AV", "OBX|1|TX|||Letter text");
        Assert.True(result.Succeeded, string.Join(",", result.Issues));
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero), All<DocumentReference>(result).Single().Date);
    }

    [Fact]
    public void UnitWithoutACodingSystem_IsNotCalledUcum()
    {
        Quantity quantity = (Quantity)All<Observation>(Map(@"MSH|^~\&|LAB|RX1|X|Y|20261201||ORU^R01|U1|P|2.4", "PID|1||M1^^^R0B^MR",
            "OBR|1||F1|X", "OBX|1|NM|WBC||5|x10 9/L|||||F")).Single().Value;
        Assert.Equal("x10 9/L", quantity.Unit);
        Assert.Null(quantity.System);
    }

    [Theory]
    [InlineData("""{ "resourceType": "ValueSet", "status": "active" }""")]
    [InlineData("null")]
    [InlineData("{ not json")]
    public void ConceptMapFileOfAnotherKind_FailsNamingTheKey(string content)
    {
        File.WriteAllText(Path.Combine(_dir, "other.json"), content);
        string profile = Path.Combine(_dir, "t.json");
        File.WriteAllText(profile, """{ "conceptMaps": [ { "file": "other.json", "fields": ["PV1-10"] } ] }""");
        var e = Assert.Throws<TrustProfileException>(() => TrustProfileLoader.Load(profile));
        Assert.Equal("conceptMaps[0].file", e.Key);
    }

    [Theory]
    [InlineData("""{ "conceptMaps": [ { "file": "m.json", "fields": ["PV1-4"] } ] }""", "conceptMaps[0].fields")]
    [InlineData("""{ "conceptMaps": [ { "file": "m.json", "fields": [] } ] }""", "conceptMaps[0].fields")]
    [InlineData("""{ "identifierSystems": { "LOCALNHS": "https://fhir.nhs.uk/Id/nhs-number" } }""", "identifierSystems.LOCALNHS")]
    [InlineData("""{ "nhsNumber": { "assigningAuthorities": [], "identifierTypes": [] } }""", "nhsNumber")]
    [InlineData("""{ "zSegments": [ { "segment": "ZU1", "field": 27, "target": "nhsNumberVerificationStatus", "code": "R" } ] }""", "zSegments[0].code")]
    public void ProfileKeysThatWouldDoNothingOrHarm_AreRefused(string json, string key)
    {
        File.WriteAllText(Path.Combine(_dir, "m.json"), """
            { "resourceType": "ConceptMap", "status": "active",
              "group": [ { "target": "http://snomed.info/sct", "element": [ { "code": "1", "target": [ { "code": "2", "equivalence": "equivalent" } ] } ] } ] }
            """);
        string profile = Path.Combine(_dir, "t.json");
        File.WriteAllText(profile, json);
        Assert.Equal(key, Assert.Throws<TrustProfileException>(() => TrustProfileLoader.Load(profile)).Key);
    }
}
