#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The region catalog (`regions/regions.yaml`): public facts about cloud regions.
///
/// Read from YAML with `RegionCatalog(yaml:)` of `MeridianYAML`.
public struct RegionCatalog: Sendable, Hashable {
    public var regions: [Region]

    public init(regions: [Region]) { self.regions = regions }

    /// Checks the regions of a catalog: unique ids, ISO-looking country codes, coordinates in range.
    public init(validating regions: [Region]) throws(APIError) {
        var seen = Set<String>()
        for (index, region) in regions.enumerated() {
            guard seen.insert(region.id).inserted else { throw .invalid("regions[\(index)].id", "region id '\(region.id)' appears twice") }
            guard region.country.count == 2, region.country == region.country.uppercased() else {
                throw .invalid("regions[\(index)].country", "'\(region.country)' is not an ISO 3166-1 alpha-2 code")
            }
            guard (-90...90).contains(region.latitude), (-180...180).contains(region.longitude) else {
                throw .invalid("regions[\(index)]", "coordinates of '\(region.id)' are out of range")
            }
        }
        self.regions = regions
    }

    /// Finds `regions/regions.yaml` from the working directory or above the executable (for `swift run`).
    public static func defaultPath(executablePath: String = CommandLine.arguments.first ?? "") -> String? {
        let fm = FileManager.default
        var candidates = [fm.currentDirectoryPath + "/regions/regions.yaml"]
        var url = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(url.appendingPathComponent("regions/regions.yaml").path)
            url = url.deletingLastPathComponent()
        }
        return candidates.first { fm.fileExists(atPath: $0) }
    }
}
