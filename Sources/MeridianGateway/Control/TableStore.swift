#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeridianModel

/// The last good routing table on disk (`table.json` in the data directory), so a gateway that restarts while every
/// hub is down routes as before (static stability).
public enum TableStore {
    public static let fileName = "table.json"

    /// Reads a table file.
    public static func read(_ path: String) throws(GatewayError) -> RoutingTable {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw GatewayError(.invalidTable, "cannot read routing table \(path): \(error.fileErrorDescription)")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(RoutingTable.self, from: data)
        } catch {
            throw GatewayError(.invalidTable, "\(path) is not a routing table: \(error)")
        }
    }

    /// Writes `table` to `directory/table.json` atomically.
    public static func write(_ table: RoutingTable, to directory: String) throws(GatewayError) {
        let data: Data
        do {
            data = try table.canonicalJSON()
        } catch {
            throw GatewayError(.invalidTable, "cannot encode routing table version \(table.version): \(error)")
        }
        try SecureFile.makeDirectory(directory)
        try SecureFile.write(Array(data), to: SecureFile.path(directory, fileName), mode: 0o644)
    }
}
