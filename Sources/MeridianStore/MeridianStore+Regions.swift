import MeridianModel
import PostgresNIO

extension MeridianStore {
    /// Upserts the region catalog (at start).
    public func upsertRegions(_ regions: [Region]) async throws {
        try await transaction { connection in
            for region in regions {
                try await connection.query("""
                    INSERT INTO regions (id, provider, provider_region, name, city, country, latitude, longitude, blocs)
                    VALUES (\(region.id), \(region.provider), \(region.providerRegion), \(region.name), \(region.city),
                            \(region.country), \(region.latitude), \(region.longitude), \(region.blocs))
                    ON CONFLICT (id) DO UPDATE SET provider = EXCLUDED.provider, provider_region = EXCLUDED.provider_region,
                        name = EXCLUDED.name, city = EXCLUDED.city, country = EXCLUDED.country,
                        latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude, blocs = EXCLUDED.blocs
                    """, logger: logger)
            }
        }
    }

    /// Every region, by id.
    public func regions() async throws -> [Region] {
        let rows = try await client.query("""
            SELECT id, provider, provider_region, name, city, country, latitude, longitude, blocs FROM regions ORDER BY id
            """, logger: logger)
        var regions: [Region] = []
        for try await (id, provider, code, name, city, country, lat, lon, blocs) in rows.decode((String, String, String, String, String, String, Double, Double, [String]).self) {
            regions.append(Region(id: id, provider: provider, providerRegion: code, name: name, city: city, country: country, latitude: lat, longitude: lon, blocs: blocs))
        }
        return regions
    }
}
