using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Hl7.Fhir.Model;

namespace StreamEngine.Benchmarks;

/// <summary>
/// The baseline the mapping benchmarks compare against: what a first implementation usually looks like. It splits the
/// message with <see cref="string.Split(char, StringSplitOptions)"/> on every field access (segments, then fields,
/// repetitions, components), and builds the same transaction Bundle with the same Firely POCOs and serialiser as
/// <c>MessageMapper</c> for the benchmark messages (ADT^A01 and ORU^R01): the same resources, in the same order.
/// It handles only what those messages carry; it is a yardstick, not a mapper.
/// </summary>
public sealed class NaiveMapper
{
    public Bundle Map(byte[] bytes)
    {
        string text = Encoding.UTF8.GetString(bytes);
        string[] segments = text.Split('\r', StringSplitOptions.RemoveEmptyEntries);
        string msh = segments.First(s => s.StartsWith("MSH", StringComparison.Ordinal));
        string type = Get(msh, 9, 1) + "^" + Get(msh, 9, 2);
        string facility = Get(msh, 4, 1);
        string control = Get(msh, 10, 1);
        var bundle = new Bundle
        {
            Type = Bundle.BundleType.Transaction,
            Identifier = new Identifier("urn:streamengine:id:" + Clean(facility) + ":message", control),
            Timestamp = Instant(Get(msh, 7, 1)),
        };
        bool adt = type.StartsWith("ADT", StringComparison.Ordinal);
        string pid = segments.First(s => s.StartsWith("PID|", StringComparison.Ordinal));
        (Patient patient, Identifier patientKey) = Patient(pid, facility);
        string patientUrl = Add(bundle, patient, patientKey, adt);
        string? encounterUrl = null;
        foreach (string segment in segments)
        {
            string id = segment[..3];
            if (id == "PV1" && Get(segment, 19, 1).Length > 0) // no visit number, no Encounter (as MessageMapper)
            {
                var encounter = new Encounter
                {
                    Meta = new Meta { Profile = ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Encounter"] },
                    Status = Encounter.EncounterStatus.InProgress,
                    Subject = new ResourceReference(patientUrl),
                    Class = Get(segment, 2, 1) switch
                    {
                        "I" => new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "IMP", "inpatient encounter"),
                        "O" => new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB", "ambulatory"),
                        "E" => new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "EMER", "emergency"),
                        _ => new Coding("http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "UNK", "unknown"),
                    },
                };
                var key = new Identifier("urn:streamengine:id:" + Clean(facility) + ":VN", Get(segment, 19, 1));
                encounter.Identifier.Add(key);
                string start = Get(segment, 44, 1);
                if (start.Length > 0)
                {
                    encounter.Period = new Period { Start = DateTime(start) };
                }

                string? parent = null;
                string site = Get(segment, 3, 4);
                string path = site.Length > 0 ? site : facility;
                if (site.Length > 0)
                {
                    var siteLocation = new Location
                    {
                        Meta = new Meta { Profile = ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Location"] },
                        Identifier = [new Identifier("urn:streamengine:id:" + Clean(facility) + ":location", site)],
                        Name = site,
                        Mode = Location.LocationMode.Instance,
                        PhysicalType = new CodeableConcept("http://terminology.hl7.org/CodeSystem/location-physical-type", "si"),
                    };
                    parent = Add(bundle, siteLocation, siteLocation.Identifier[0], upsert: false);
                }

                string[] physical = ["wa", "ro", "bd"];
                for (int c = 1; c <= 3; c++)
                {
                    string value = Get(segment, 3, c);
                    if (value.Length == 0)
                    {
                        continue;
                    }

                    path += "^" + value;
                    var location = new Location
                    {
                        Meta = new Meta { Profile = ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Location"] },
                        Identifier = [new Identifier("urn:streamengine:id:" + Clean(facility) + ":location", path)],
                        Name = value,
                        Mode = Location.LocationMode.Instance,
                        PhysicalType = new CodeableConcept("http://terminology.hl7.org/CodeSystem/location-physical-type", physical[c - 1]),
                    };
                    if (parent is not null)
                    {
                        location.PartOf = new ResourceReference(parent);
                    }

                    parent = Add(bundle, location, location.Identifier[0], upsert: false);
                }

                if (parent is not null)
                {
                    encounter.Location.Add(new Encounter.LocationComponent { Location = new ResourceReference(parent), Status = Encounter.EncounterLocationStatus.Active });
                }

                foreach ((int field, string role) in new[] { (7, "ATND"), (8, "REF"), (9, "CON"), (17, "ADM") })
                {
                    string who = Get(segment, field, 1);
                    if (who.Length > 0)
                    {
                        encounter.Participant.Add(new Encounter.ParticipantComponent
                        {
                            Type = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", role)],
                            Individual = new ResourceReference { Type = "Practitioner", Identifier = new Identifier("urn:streamengine:id:" + Clean(facility) + ":PRN", who), Display = (Get(segment, field, 3) + " " + Get(segment, field, 2)).Trim() },
                        });
                    }
                }

                encounterUrl = Add(bundle, encounter, key, adt);
            }
            else if (id == "NK1")
            {
                var person = new RelatedPerson { Patient = new ResourceReference(patientUrl) };
                var key = new Identifier("urn:streamengine:id:" + Clean(facility) + ":related-person", control + "-NK1-" + (Array.IndexOf(segments, segment) + 1));
                person.Identifier.Add(key);
                person.Name.Add(new HumanName { Family = Get(segment, 2, 1), Given = [Get(segment, 2, 2)] });
                person.Relationship.Add(new CodeableConcept("http://terminology.hl7.org/CodeSystem/v2-0063", Get(segment, 3, 1)));
                Add(bundle, person, key, upsert: true);
            }
            else if (id == "AL1")
            {
                var allergy = new AllergyIntolerance
                {
                    Patient = new ResourceReference(patientUrl),
                    Code = new CodeableConcept(System(Get(segment, 3, 3)), Get(segment, 3, 1), Get(segment, 3, 2), null),
                    ClinicalStatus = new CodeableConcept("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active"),
                };
                var key = new Identifier("urn:streamengine:id:" + Clean(facility) + ":allergy", control + "-AL1-" + (Array.IndexOf(segments, segment) + 1));
                allergy.Identifier.Add(key);
                Add(bundle, allergy, key, upsert: true);
            }
            else if (id == "DG1")
            {
                var condition = new Condition
                {
                    Subject = new ResourceReference(patientUrl),
                    Code = new CodeableConcept(System(Get(segment, 3, 3)), Get(segment, 3, 1), Get(segment, 3, 2), null),
                };
                var key = new Identifier("urn:streamengine:id:" + Clean(facility) + ":condition", control + "-DG1-" + (Array.IndexOf(segments, segment) + 1));
                condition.Identifier.Add(key);
                Add(bundle, condition, key, upsert: true);
            }
        }

        if (!adt)
        {
            MapResults(bundle, segments, facility, patientUrl, encounterUrl);
        }

        var provenance = new Provenance { Recorded = Instant(Get(msh, 7, 1)), Activity = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v2-0003", Get(msh, 9, 2)) };
        foreach (Bundle.EntryComponent entry in bundle.Entry)
        {
            provenance.Target.Add(new ResourceReference(entry.FullUrl));
        }

        provenance.Agent.Add(new Provenance.AgentComponent { Who = new ResourceReference { Display = facility } });
        provenance.Id = Uuid("Provenance|" + control).ToString("D");
        bundle.Entry.Add(new Bundle.EntryComponent
        {
            FullUrl = "urn:uuid:" + provenance.Id,
            Resource = provenance,
            Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = "Provenance/" + provenance.Id },
        });
        return bundle;
    }

    private static void MapResults(Bundle bundle, string[] segments, string facility, string patientUrl, string? encounterUrl)
    {
        string obr = segments.First(s => s.StartsWith("OBR|", StringComparison.Ordinal));
        string filler = Get(obr, 3, 1);
        var report = new DiagnosticReport
        {
            Subject = new ResourceReference(patientUrl),
            Code = new CodeableConcept(System(Get(obr, 4, 3)), Get(obr, 4, 1), Get(obr, 4, 2), null),
            Status = Get(obr, 25, 1) == "F" ? DiagnosticReport.DiagnosticReportStatus.Final : DiagnosticReport.DiagnosticReportStatus.Unknown,
            Category = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB")],
            Effective = new FhirDateTime(DateTime(Get(obr, 7, 1))),
        };
        if (encounterUrl is not null)
        {
            report.Encounter = new ResourceReference(encounterUrl);
        }

        var reportKey = new Identifier("urn:streamengine:id:" + Clean(Get(obr, 3, 2)) + ":FILL", filler);
        report.Identifier.Add(new Identifier("urn:streamengine:id:" + Clean(Get(obr, 2, 2)) + ":PLAC", Get(obr, 2, 1)));
        report.Identifier.Add(reportKey);
        int n = 0;
        foreach (string obx in segments.Where(s => s.StartsWith("OBX|", StringComparison.Ordinal)))
        {
            n++;
            var observation = new Observation
            {
                Status = Get(obx, 11, 1) == "F" ? ObservationStatus.Final : ObservationStatus.Unknown,
                Code = new CodeableConcept(System(Get(obx, 3, 3)), Get(obx, 3, 1), Get(obx, 3, 2), null),
                Subject = new ResourceReference(patientUrl),
                Category = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory")],
            };
            if (Get(obx, 2, 1) == "NM")
            {
                observation.Value = new Quantity
                {
                    Value = decimal.Parse(Get(obx, 5, 1), CultureInfo.InvariantCulture),
                    Unit = Get(obx, 6, 1),
                    Code = Get(obx, 6, 1),
                    System = "http://unitsofmeasure.org",
                };
            }
            else
            {
                observation.Value = new FhirString(Get(obx, 5, 1));
            }

            if (Get(obx, 7, 1).Length > 0)
            {
                observation.ReferenceRange.Add(new Observation.ReferenceRangeComponent { Text = Get(obx, 7, 1) });
            }

            if (Get(obx, 8, 1).Length > 0)
            {
                observation.Interpretation.Add(new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", Get(obx, 8, 1)));
            }

            if (Get(obx, 14, 1).Length > 0)
            {
                observation.Effective = new FhirDateTime(DateTime(Get(obx, 14, 1)));
            }

            var key = new Identifier("urn:streamengine:id:" + Clean(facility) + ":observation", filler + "-" + n);
            observation.Identifier.Add(key);
            report.Result.Add(new ResourceReference(Add(bundle, observation, key, upsert: true)));
        }

        Add(bundle, report, reportKey, upsert: true);
    }

    private static (Patient, Identifier) Patient(string pid, string facility)
    {
        var patient = new Patient { Meta = new Meta { Profile = ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"] } };
        Identifier? key = null;
        string[] reps = Field(pid, 3).Split('~');
        foreach (string rep in reps)
        {
            string[] cx = rep.Split('^');
            string authority = cx.Length > 3 ? cx[3] : facility;
            string type = cx.Length > 4 ? cx[4] : string.Empty;
            var identifier = new Identifier("urn:streamengine:id:" + Clean(authority) + ":" + Clean(type), cx[0])
            {
                Type = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v2-0203", type),
                Assigner = new ResourceReference { Identifier = new Identifier { Value = authority } },
            };
            patient.Identifier.Add(identifier);
            if (type == "MR")
            {
                key ??= identifier;
            }
        }

        patient.Name.Add(new HumanName { Family = Get(pid, 5, 1), Given = new[] { Get(pid, 5, 2), Get(pid, 5, 3) }.Where(g => g.Length > 0).ToList() });
        string dob = Get(pid, 7, 1);
        patient.BirthDate = dob.Length >= 8 ? dob[..4] + "-" + dob[4..6] + "-" + dob[6..8] : null;
        patient.Gender = Get(pid, 8, 1) switch { "M" => AdministrativeGender.Male, "F" => AdministrativeGender.Female, _ => AdministrativeGender.Unknown };
        if (Get(pid, 11, 1).Length > 0)
        {
            patient.Address.Add(new Address
            {
                Line = [Get(pid, 11, 1)],
                City = Get(pid, 11, 3),
                District = Get(pid, 11, 4),
                PostalCode = Get(pid, 11, 5),
                Country = Get(pid, 11, 6),
                Use = Address.AddressUse.Home,
            });
        }

        foreach (int field in new[] { 13, 14 })
        {
            string number = Get(pid, field, 7);
            if (number.Length > 0)
            {
                patient.Telecom.Add(new ContactPoint(ContactPoint.ContactPointSystem.Phone, field == 13 ? ContactPoint.ContactPointUse.Home : ContactPoint.ContactPointUse.Work,
                    "+" + Get(pid, field, 5) + " " + Get(pid, field, 6) + " " + number));
            }
        }

        if (Get(pid, 16, 1).Length > 0)
        {
            patient.MaritalStatus = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", Get(pid, 16, 1));
        }

        return (patient, key ?? patient.Identifier[0]);
    }

    private static string Add(Bundle bundle, Resource resource, Identifier key, bool upsert)
    {
        string url = "urn:uuid:" + Uuid(resource.TypeName + "|" + key.System + "|" + key.Value).ToString("D");
        string query = "identifier=" + Uri.EscapeDataString(key.System!) + "|" + Uri.EscapeDataString(key.Value!);
        bundle.Entry.Add(new Bundle.EntryComponent
        {
            FullUrl = url,
            Resource = resource,
            Request = upsert
                ? new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = resource.TypeName + "?" + query }
                : new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = resource.TypeName, IfNoneExist = query },
        });
        return url;
    }

    // The naive part: every access splits the segment, the field and the component again.
    private static string Field(string segment, int field)
    {
        string[] fields = segment.Split('|');
        int index = segment.StartsWith("MSH", StringComparison.Ordinal) ? field - 1 : field;
        return index < fields.Length ? fields[index] : string.Empty;
    }

    private static string Get(string segment, int field, int component)
    {
        string[] components = Field(segment, field).Split('~')[0].Split('^');
        return component <= components.Length ? components[component - 1].Split('&')[0] : string.Empty;
    }

    private static string System(string name) => name switch
    {
        "LN" => "http://loinc.org",
        "SCT" => "http://snomed.info/sct",
        "I10" => "http://hl7.org/fhir/sid/icd-10",
        _ => "urn:streamengine:codesystem:" + name,
    };

    private static string Clean(string value) => new(value.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' ? c : '-').ToArray());

    private static string DateTime(string v2)
    {
        var local = global::System.DateTime.ParseExact(v2[..Math.Min(v2.Length, 14)].PadRight(14, '0'), "yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        TimeSpan offset = TimeZoneInfo.FindSystemTimeZoneById("Europe/London").GetUtcOffset(local);
        return new DateTimeOffset(local, offset).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
    }

    private static DateTimeOffset Instant(string v2) => DateTimeOffset.Parse(DateTime(v2), CultureInfo.InvariantCulture);

    private static Guid Uuid(string name)
    {
        byte[] hash = SHA1.HashData(Encoding.UTF8.GetBytes("6c1e3c2a-5b7d-4f0e-9a61-2f1d8e4b7c30" + name));
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }
}
