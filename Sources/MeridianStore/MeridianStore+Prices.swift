import Foundation
import MeridianModel
import PostgresNIO

extension MeridianStore {
    /// Upserts prices, all or nothing: an unknown region or cluster refuses the whole batch.
    public func upsertPrices(_ prices: [GPUPrice], actor: String) async throws -> Int {
        for (index, price) in prices.enumerated() { try price.validate(field: "prices[\(index)].") }
        return try await transaction { connection in
            let regionIDs = Set(try await regionIDs(on: connection))
            for (index, price) in prices.enumerated() {
                if let region = price.region, !regionIDs.contains(region) {
                    throw APIError.invalid("prices[\(index)].region", "unknown region '\(region)'; see GET /v1/regions")
                }
                if let cluster = price.cluster, try await self.cluster(named: cluster, on: connection) == nil {
                    throw APIError.invalid("prices[\(index)].cluster", "unknown cluster '\(cluster)'")
                }
                try await connection.query("""
                    INSERT INTO prices (region, cluster, gpu_model, on_demand_per_hour, spot_per_hour, currency, effective_from, source)
                    VALUES (\(price.region), \(price.cluster), \(price.gpuModel), \(price.onDemandPerHour), \(price.spotPerHour),
                            \(price.currency), \(price.effectiveFrom), \(price.source))
                    ON CONFLICT (region, cluster, gpu_model, effective_from) DO UPDATE SET
                        on_demand_per_hour = EXCLUDED.on_demand_per_hour, spot_per_hour = EXCLUDED.spot_per_hour,
                        currency = EXCLUDED.currency, source = EXCLUDED.source
                    """, logger: logger)
            }
            struct Batch: Encodable { var count: Int; var prices: [GPUPrice] }
            try await audit(connection, actor: actor, action: "price.upsert", objectType: "price", objectName: "batch",
                            before: Nothing?.none, after: Batch(count: prices.count, prices: Array(prices.prefix(200))))
            return prices.count
        }
    }

    func regionIDs(on connection: PostgresConnection) async throws -> [String] {
        let rows = try await connection.query("SELECT id FROM regions", logger: logger)
        var ids: [String] = []
        for try await id in rows.decode(String.self) { ids.append(id) }
        return ids
    }

    /// Prices in effect now (latest `effectiveFrom` not in the future per key), optionally filtered.
    public func currentPrices(region: String? = nil, cluster: String? = nil, gpuModel: String? = nil) async throws -> [GPUPrice] {
        let rows = try await client.query("""
            SELECT DISTINCT ON (region, cluster, gpu_model) region, cluster, gpu_model, on_demand_per_hour, spot_per_hour,
                   currency, effective_from, source
            FROM prices
            WHERE effective_from <= now()
              AND (\(region)::text IS NULL OR region = \(region))
              AND (\(cluster)::text IS NULL OR cluster = \(cluster))
              AND (\(gpuModel)::text IS NULL OR gpu_model = \(gpuModel))
            ORDER BY region, cluster, gpu_model, effective_from DESC
            """, logger: logger)
        var prices: [GPUPrice] = []
        for try await (region, cluster, model, onDemand, spot, currency, from, source)
            in rows.decode((String?, String?, String, Double, Double?, String, Date, String).self) {
            prices.append(GPUPrice(region: region, cluster: cluster, gpuModel: model, onDemandPerHour: onDemand, spotPerHour: spot,
                                   currency: currency, effectiveFrom: from, source: source))
        }
        return prices
    }

    /// Imports a SkyPilot `vms.csv` catalog: per-GPU prices for the catalog's regions; rows for regions the
    /// catalog does not know are reported as skipped.
    public func importSkyPilotCatalog(_ csv: String, source: String, effectiveFrom: Date = Date(), actor: String) async throws -> PriceImportResult {
        let catalog = try SkyPilotCatalog(csv: csv)
        let regions = try await self.regions()
        var byProviderCode: [String: [Region]] = [:]
        for region in regions { byProviderCode[region.providerRegion, default: []].append(region) }
        var prices: [GPUPrice] = []
        var skipped: [String] = []
        for row in catalog.perGPUPrices() {
            guard let matches = byProviderCode[row.providerRegion] else {
                skipped.append("\(row.providerRegion)/\(row.gpuModel): region not in the catalog")
                continue
            }
            for region in matches {
                prices.append(GPUPrice(region: region.id, gpuModel: row.gpuModel, onDemandPerHour: row.onDemand, spotPerHour: row.spot,
                                       currency: "USD", effectiveFrom: effectiveFrom, source: source))
            }
        }
        let imported = try await upsertPrices(prices, actor: actor)
        return PriceImportResult(imported: imported, skipped: skipped)
    }
}
