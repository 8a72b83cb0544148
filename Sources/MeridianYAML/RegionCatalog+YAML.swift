import MeridianModel
import Yams

extension RegionCatalog {
    private struct File: Decodable { var regions: [Region] }

    /// Parses and checks the catalog: unique ids, ISO-looking country codes, coordinates in range.
    public init(yaml: String) throws(APIError) {
        let file: File
        do { file = try YAMLDecoder().decode(File.self, from: yaml) } catch {
            throw APIError(status: 400, code: .invalidField, message: "the region catalog is not valid: \(error)", field: "regions")
        }
        try self.init(validating: file.regions)
    }
}
