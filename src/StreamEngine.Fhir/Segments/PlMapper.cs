using Hl7.Fhir.Model;
using StreamEngine.Fhir.DataTypes;
using StreamEngine.Fhir.Terminology;
using StreamEngine.Hl7v2;

namespace StreamEngine.Fhir.Segments;

/// <summary>
/// PL (person location: PV1-3, PV1-6, AIL-3) to Location resources, per the IG's PL[Location] map: the site
/// (PL.4, an ODS site code in England), ward (PL.1), room (PL.2) and bed (PL.3), each a Location created if absent,
/// each <c>partOf</c> the level above. Returns the most specific level's fullUrl.
/// </summary>
public static class PlMapper
{
    /// <summary>Adds the location chain to the bundle; null when the PL names no ward, room, bed or site.</summary>
    public static string? Map(MappingContext context, Hl7Value pl, string segment, int field)
    {
        string? ward = V2Text.Of(pl.Component(1).Subcomponent(1));
        string? room = V2Text.Of(pl.Component(2).Subcomponent(1));
        string? bed = V2Text.Of(pl.Component(3).Subcomponent(1));
        Hl7Value facility = pl.Component(4);
        string? site = V2Text.Of(facility.Subcomponent(1));
        string? description = V2Text.Of(pl.Component(9));
        if (ward is null && room is null && bed is null && site is null)
        {
            return null;
        }

        string? parent = null;
        string path = site ?? context.SendingFacility;
        if (site is not null)
        {
            Identifier siteId = context.Profile.FacilitiesAreOdsCodes && XonMapper.IsOdsCode(site)
                ? new Identifier(site.Length == 3 ? UkCore.OdsOrganizationCode : UkCore.OdsSiteCode, site)
                : new Identifier(context.Profile.SystemFor(context.SendingFacility, "location"), site);
            parent = Add(context, siteId, "si", "Site", site, null, segment, field, ward is null && room is null && bed is null ? description : null);
        }

        string[] levels = ["wa", "ro", "bd"];
        string?[] values = [ward, room, bed];
        string last = parent ?? string.Empty;
        for (int i = 0; i < 3; i++)
        {
            if (values[i] is not { } value)
            {
                continue;
            }

            path += "^" + value;
            bool mostSpecific = Array.FindLastIndex(values, v => v is not null) == i;
            var id = new Identifier(context.Profile.SystemFor(context.SendingFacility, "location"), path);
            last = Add(context, id, levels[i], levels[i] switch { "wa" => "Ward", "ro" => "Room", _ => "Bed" }, value, parent, segment, field, mostSpecific ? description : null);
            parent = last;
        }

        return last;
    }

    private static string Add(MappingContext context, Identifier id, string physicalType, string physicalDisplay, string name,
        string? partOf, string segment, int field, string? description)
    {
        var location = new Location
        {
            Meta = UkCore.Meta(UkCore.LocationProfile),
            Identifier = [id],
            Name = name,
            Mode = Location.LocationMode.Instance,
            PhysicalType = new CodeableConcept(UkCore.LocationPhysicalType, physicalType, physicalDisplay, null),
        };
        if (description is not null)
        {
            location.Description = description;
        }

        if (physicalType == "wa" && context.Profile.ConceptMaps.Count > 0)
        {
            // A Trust ConceptMap on the ward field (e.g. PV1-3) gives the location a national type.
            var local = new CodeableConcept(context.Profile.SystemFor(context.SendingFacility, "ward"), name);
            CodeableConcept translated = context.Translate(local, segment, field);
            if (translated.Coding.Count > 1)
            {
                translated.Coding.RemoveAt(0);
                location.Type.Add(translated);
            }
        }

        if (partOf is not null)
        {
            location.PartOf = new ResourceReference(partOf);
        }

        return context.Bundle.AddCreateIfAbsent(location, id);
    }
}
