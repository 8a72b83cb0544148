import Foundation
import Yams

/// The region catalog (`regions/regions.yaml`): public facts about cloud regions.
public struct RegionCatalog: Sendable, Hashable {
    public var regions: [Region]

    public init(regions: [Region]) { self.regions = regions }

    private struct File: Decodable { var regions: [Region] }

    /// Parses and checks the catalog: unique ids, ISO-looking country codes, coordinates in range.
    public init(yaml: String) throws(APIError) {
        let file: File
        do { file = try YAMLDecoder().decode(File.self, from: yaml) } catch {
            throw APIError(status: 400, code: .invalidField, message: "the region catalog is not valid: \(error)", field: "regions")
        }
        var seen = Set<String>()
        for (index, region) in file.regions.enumerated() {
            guard seen.insert(region.id).inserted else { throw .invalid("regions[\(index)].id", "region id '\(region.id)' appears twice") }
            guard region.country.count == 2, region.country == region.country.uppercased() else {
                throw .invalid("regions[\(index)].country", "'\(region.country)' is not an ISO 3166-1 alpha-2 code")
            }
            guard (-90...90).contains(region.latitude), (-180...180).contains(region.longitude) else {
                throw .invalid("regions[\(index)]", "coordinates of '\(region.id)' are out of range")
            }
        }
        self.regions = file.regions
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
