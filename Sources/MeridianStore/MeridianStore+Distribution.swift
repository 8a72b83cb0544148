import Foundation
import MeridianModel
import PostgresNIO

/// The latest probe of one peer by one gateway.
public struct ProbeObservation: Sendable, Hashable {
    public var from: String
    public var to: String
    public var reachable: Bool
    public var rttMs: Double?
    public var observedAt: Date

    public init(from: String, to: String, reachable: Bool, rttMs: Double?, observedAt: Date) {
        self.from = from
        self.to = to
        self.reachable = reachable
        self.rttMs = rttMs
        self.observedAt = observedAt
    }
}

extension MeridianStore {
    /// Publishes tables: a table whose hash differs from the stored one gets the next version and a notification on
    /// ``tableChannel``. Returns the tables that were published, with their versions.
    public func publishTables(_ tables: [RoutingTable]) async throws -> [RoutingTable] {
        try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(7431004)", logger: logger)
            let rows = try await connection.query("SELECT cluster, version, hash FROM routing_tables", logger: logger)
            var current: [String: (Int64, String)] = [:]
            for try await (cluster, version, hash) in rows.decode((String, Int64, String).self) { current[cluster] = (version, hash) }
            var published: [RoutingTable] = []
            var names: [String] = [], versions: [Int64] = [], hashes: [String] = [], bodies: [String] = []
            let writer = RoutingTableHasher(policy: tables.first?.policy ?? .permissive)
            for var table in tables.sorted(by: { $0.source < $1.source }) {
                if let (_, hash) = current[table.source], hash == table.hash { continue }
                table.version = (current[table.source]?.0 ?? 0) + 1
                names.append(table.source)
                versions.append(table.version)
                hashes.append(table.hash)
                bodies.append(String(decoding: try writer.canonicalJSON(table), as: UTF8.self))
                published.append(table)
            }
            guard !published.isEmpty else { return [] }
            // One statement for the rows and one for the notifications, however many tables changed.
            try await connection.query("""
                INSERT INTO routing_tables (cluster, version, hash, body, published_at)
                SELECT c, v, h, b, clock_timestamp() FROM unnest(\(names)::text[], \(versions)::bigint[], \(hashes)::text[], \(bodies)::text[]) AS t(c, v, h, b)
                ON CONFLICT (cluster) DO UPDATE SET version = EXCLUDED.version, hash = EXCLUDED.hash, body = EXCLUDED.body,
                    published_at = EXCLUDED.published_at
                """, logger: logger)
            try await connection.query("SELECT pg_notify(\(Self.tableChannel), c) FROM unnest(\(names)::text[]) AS c", logger: logger)
            return published
        }
    }

    /// Published tables (optionally one cluster's), with their publication times.
    public func publishedTables(cluster: String? = nil) async throws -> [(table: RoutingTable, publishedAt: Date)] {
        let rows = try await client.query("""
            SELECT body, published_at FROM routing_tables WHERE (\(cluster)::text IS NULL OR cluster = \(cluster))
            """, logger: logger)
        var result: [(RoutingTable, Date)] = []
        for try await (body, at) in rows.decode((String, Date).self) {
            result.append((try Self.decode(RoutingTable.self, body), at))
        }
        return result
    }

    /// Published tables as stored (canonical JSON), of the named clusters or of all; one query.
    public func publishedTableBodies(clusters: [String]?) async throws -> [(cluster: String, version: Int64, hash: String, publishedAt: Date, body: Data)] {
        let rows = try await client.query("""
            SELECT cluster, version, hash, published_at, body FROM routing_tables
            WHERE \(clusters == nil) OR cluster = ANY(\(clusters ?? []))
            """, logger: logger)
        var result: [(String, Int64, String, Date, Data)] = []
        for try await (cluster, version, hash, at, body) in rows.decode((String, Int64, String, Date, String).self) {
            result.append((cluster, version, hash, at, Data(body.utf8)))
        }
        return result
    }

    /// Records that a gateway applied a table version.
    public func acknowledgeTable(cluster: String, version: Int64, hash: String?, convergenceMs: Double?) async throws {
        try await client.query("""
            INSERT INTO config_status (cluster, applied_version, applied_hash, applied_at, convergence_ms)
            VALUES (\(cluster), \(version), \(hash), clock_timestamp(), \(convergenceMs))
            ON CONFLICT (cluster) DO UPDATE SET applied_version = EXCLUDED.applied_version, applied_hash = EXCLUDED.applied_hash,
                applied_at = EXCLUDED.applied_at, convergence_ms = EXCLUDED.convergence_ms
            WHERE config_status.applied_version <> EXCLUDED.applied_version
            """, logger: logger)
    }

    /// Published versus applied table versions per cluster.
    public func configStatus(cluster: String? = nil) async throws -> [ConfigStatus] {
        let rows = try await client.query("""
            SELECT c.name, t.version, s.applied_version, t.published_at, s.applied_at, s.convergence_ms
            FROM clusters c LEFT JOIN routing_tables t ON t.cluster = c.name LEFT JOIN config_status s ON s.cluster = c.name
            WHERE (\(cluster)::text IS NULL OR c.name = \(cluster)) ORDER BY c.name
            """, logger: logger)
        var result: [ConfigStatus] = []
        for try await (name, published, applied, publishedAt, appliedAt, convergence)
            in rows.decode((String, Int64?, Int64?, Date?, Date?, Double?).self) {
            result.append(ConfigStatus(cluster: name, publishedVersion: published, appliedVersion: applied,
                                       publishedAt: publishedAt, appliedAt: appliedAt, convergenceMs: convergence))
        }
        return result
    }

    /// Records a heartbeat: last-seen time, inventory (not audited, but notified), probes, and the applied table.
    public func recordHeartbeat(_ heartbeat: Heartbeat) async throws {
        try heartbeat.inventory.validate()
        try await transaction { connection in
            guard try await self.cluster(named: heartbeat.cluster, on: connection) != nil else {
                throw APIError.notFound("cluster", heartbeat.cluster)
            }
            try await connection.query("UPDATE clusters SET last_heartbeat_at = clock_timestamp() WHERE name = \(heartbeat.cluster)", logger: logger)
            var report = heartbeat.inventory
            report.observedAt = report.observedAt ?? Date()
            let body = try Self.json(report)
            let previous = try await connection.query("SELECT report::text FROM inventory WHERE cluster = \(heartbeat.cluster)", logger: logger)
            var previousBody: String? = nil
            for try await text in previous.decode(String.self) { previousBody = text }
            try await connection.query("""
                INSERT INTO inventory (cluster, report, observed_at) VALUES (\(heartbeat.cluster), \(body)::jsonb, \(report.observedAt!))
                ON CONFLICT (cluster) DO UPDATE SET report = EXCLUDED.report, observed_at = EXCLUDED.observed_at
                """, logger: logger)
            var changed = previousBody == nil
            if let previousBody, let old = try? Self.decode(InventoryReport.self, previousBody) {
                changed = Self.materiallyDifferent(old, report)
            }
            for probe in heartbeat.probes {
                let old = try await connection.query("SELECT reachable FROM probes WHERE from_cluster = \(heartbeat.cluster) AND to_cluster = \(probe.peer)", logger: logger)
                var oldReachable: Bool? = nil
                for try await r in old.decode(Bool.self) { oldReachable = r }
                if oldReachable != probe.reachable { changed = true }
                try await connection.query("""
                    INSERT INTO probes (from_cluster, to_cluster, reachable, rtt_ms, observed_at)
                    VALUES (\(heartbeat.cluster), \(probe.peer), \(probe.reachable), \(probe.rttMs), clock_timestamp())
                    ON CONFLICT (from_cluster, to_cluster) DO UPDATE SET reachable = EXCLUDED.reachable, rtt_ms = EXCLUDED.rtt_ms,
                        observed_at = EXCLUDED.observed_at
                    """, logger: logger)
            }
            if changed {
                try await connection.query("SELECT pg_notify(\(Self.changeChannel), \("heartbeat:" + heartbeat.cluster))", logger: logger)
            }
        }
        if let version = heartbeat.appliedTableVersion {
            try await acknowledgeTable(cluster: heartbeat.cluster, version: version, hash: heartbeat.appliedTableHash, convergenceMs: heartbeat.lastApplyLatencyMs)
        }
    }

    /// A change in load that can move routing: saturation-relevant figures moved by more than a small margin.
    static func materiallyDifferent(_ a: InventoryReport, _ b: InventoryReport) -> Bool {
        if a.gpus.map(\.model) != b.gpus.map(\.model) || a.services.map(\.service) != b.services.map(\.service) { return true }
        for (x, y) in zip(a.gpus, b.gpus) where x.allocatable != y.allocatable || abs(x.utilization - y.utilization) > 0.05 { return true }
        for (x, y) in zip(a.services, b.services) where abs(x.queueDepth - y.queueDepth) > 2 || abs(x.kvCacheUtilization - y.kvCacheUtilization) > 0.05 || x.healthyEndpoints != y.healthyEndpoints { return true }
        return false
    }

    /// Latest probe observations.
    public func probes() async throws -> [ProbeObservation] {
        let rows = try await client.query("SELECT from_cluster, to_cluster, reachable, rtt_ms, observed_at FROM probes", logger: logger)
        var result: [ProbeObservation] = []
        for try await (from, to, reachable, rtt, at) in rows.decode((String, String, Bool, Double?, Date).self) {
            result.append(ProbeObservation(from: from, to: to, reachable: reachable, rttMs: rtt, observedAt: at))
        }
        return result
    }

    /// The database's clock (the failure detector compares heartbeat times with it, not with a hub's clock).
    public func now() async throws -> Date {
        let rows = try await client.query("SELECT clock_timestamp()", logger: logger)
        for try await date in rows.decode(Date.self) { return date }
        return Date()
    }
}
