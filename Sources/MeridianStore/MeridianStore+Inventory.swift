import Foundation
import MeridianModel
import PostgresNIO

extension MeridianStore {
    /// Replaces a cluster's inventory.
    public func putInventory(cluster: String, _ report: InventoryReport, actor: String, audited: Bool = true) async throws -> Inventory {
        try report.validate()
        return try await transaction { connection in
            guard try await self.cluster(named: cluster, on: connection) != nil else { throw APIError.notFound("cluster", cluster) }
            let observed = report.observedAt ?? Date()
            var stored = report
            stored.observedAt = observed
            let body = try Self.json(stored)
            let beforeRows = try await connection.query("SELECT report::text FROM inventory WHERE cluster = \(cluster) FOR UPDATE", logger: logger)
            var before: InventoryReport? = nil
            for try await text in beforeRows.decode(String.self) { before = try Self.decode(InventoryReport.self, text) }
            try await connection.query("""
                INSERT INTO inventory (cluster, report, observed_at) VALUES (\(cluster), \(body)::jsonb, \(observed))
                ON CONFLICT (cluster) DO UPDATE SET report = EXCLUDED.report, observed_at = EXCLUDED.observed_at
                """, logger: logger)
            if audited {
                try await audit(connection, actor: actor, action: "inventory.update", objectType: "cluster", objectName: cluster, before: before, after: stored)
            } else {
                try await connection.query("SELECT pg_notify(\(Self.changeChannel), \("inventory:" + cluster))", logger: logger)
            }
            return Inventory(cluster: cluster, gpus: stored.gpus, services: stored.services, observedAt: observed, stale: false)
        }
    }

    /// A cluster's inventory; `stale` when older than `staleAfter` seconds or never reported. 404 for an unknown cluster.
    public func inventory(cluster: String, staleAfter: TimeInterval) async throws -> Inventory {
        guard try await self.cluster(named: cluster) != nil else { throw APIError.notFound("cluster", cluster) }
        let all = try await inventories(staleAfter: staleAfter)
        return all[cluster] ?? Inventory(cluster: cluster, gpus: [], services: [], observedAt: nil, stale: true)
    }

    /// Every reported inventory by cluster.
    public func inventories(staleAfter: TimeInterval) async throws -> [String: Inventory] {
        let rows = try await client.query("SELECT cluster, report::text, observed_at FROM inventory", logger: logger)
        var result: [String: Inventory] = [:]
        let now = Date()
        for try await (cluster, text, observed) in rows.decode((String, String, Date).self) {
            let report = try Self.decode(InventoryReport.self, text)
            result[cluster] = Inventory(cluster: cluster, gpus: report.gpus, services: report.services, observedAt: observed,
                                        stale: now.timeIntervalSince(observed) > staleAfter)
        }
        return result
    }
}
