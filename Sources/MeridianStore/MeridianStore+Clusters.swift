import Foundation
import MeridianModel
import PostgresNIO

extension MeridianStore {
    static let clusterColumns = """
        c.name, c.region, r.provider, r.country, r.blocs, c.gateway_address, c.labels::text, c.status,
        c.created_at, c.updated_at, c.last_heartbeat_at
        """

    static func decodeClusters(_ rows: PostgresRowSequence) async throws -> [Cluster] {
        var clusters: [Cluster] = []
        for try await (name, region, provider, country, blocs, address, labels, status, created, updated, heartbeat)
            in rows.decode((String, String, String, String, [String], String, String, String, Date, Date, Date?).self) {
            clusters.append(Cluster(
                name: name, region: region, provider: provider, jurisdiction: Jurisdiction(country: country, blocs: blocs),
                gatewayAddress: address, labels: try decode([String: String].self, labels),
                status: ClusterStatus(rawValue: status) ?? .pending, createdAt: created, updatedAt: updated, lastHeartbeatAt: heartbeat))
        }
        return clusters
    }

    func cluster(named name: String, on connection: PostgresConnection, lock: Bool = false) async throws -> Cluster? {
        let rows = lock
            ? try await connection.query("SELECT \(unescaped: Self.clusterColumns) FROM clusters c JOIN regions r ON r.id = c.region WHERE c.name = \(name) FOR UPDATE OF c", logger: logger)
            : try await connection.query("SELECT \(unescaped: Self.clusterColumns) FROM clusters c JOIN regions r ON r.id = c.region WHERE c.name = \(name)", logger: logger)
        return try await Self.decodeClusters(rows).first
    }

    /// Registers a cluster. 400 for an unknown region, 409 for a duplicate name.
    public func registerCluster(_ registration: ClusterRegistration, actor: String) async throws -> Cluster {
        try registration.validate()
        return try await transaction { connection in
            let regionRows = try await connection.query("SELECT 1 FROM regions WHERE id = \(registration.region)", logger: logger)
            var regionExists = false
            for try await _ in regionRows { regionExists = true }
            guard regionExists else {
                throw APIError.invalid("region", "unknown region '\(registration.region)'; list the catalog with GET /v1/regions (ids look like 'aws-eu-central-1')")
            }
            if try await cluster(named: registration.name, on: connection) != nil {
                throw APIError.conflict("cluster '\(registration.name)' is already registered; remove it first or pick another name", field: "name")
            }
            let labels = try Self.json(registration.labels ?? [:])
            try await connection.query("""
                INSERT INTO clusters (name, region, gateway_address, labels)
                VALUES (\(registration.name), \(registration.region), \(registration.gatewayAddress), \(labels)::jsonb)
                """, logger: logger)
            guard let created = try await cluster(named: registration.name, on: connection) else {
                throw APIError(status: 500, code: .internalError, message: "cluster vanished during registration")
            }
            try await audit(connection, actor: actor, action: "cluster.register", objectType: "cluster", objectName: created.name,
                            before: Nothing?.none, after: created)
            return created
        }
    }

    /// One cluster, or nil.
    public func cluster(named name: String) async throws -> Cluster? {
        try await client.withConnection { connection in try await cluster(named: name, on: connection) }
    }

    /// Clusters matching `filter`, ordered by name, one page.
    public func clusters(_ filter: ClusterFilter = ClusterFilter()) async throws -> Page<Cluster> {
        let limit = max(1, min(filter.limit, 1000))
        let labelKey = filter.label?.key
        let labelValue = filter.label?.value
        let status = filter.status?.rawValue
        let rows = try await client.query("""
            SELECT \(unescaped: Self.clusterColumns) FROM clusters c JOIN regions r ON r.id = c.region
            WHERE (\(filter.region)::text IS NULL OR c.region = \(filter.region))
              AND (\(filter.provider)::text IS NULL OR r.provider = \(filter.provider))
              AND (\(filter.jurisdiction)::text IS NULL OR r.country = \(filter.jurisdiction) OR \(filter.jurisdiction) = ANY(r.blocs))
              AND (\(labelKey)::text IS NULL OR c.labels ->> \(labelKey) = \(labelValue))
              AND (\(status)::text IS NULL OR c.status = \(status))
              AND (\(filter.after)::text IS NULL OR c.name > \(filter.after))
            ORDER BY c.name LIMIT \(limit + 1)
            """, logger: logger)
        var clusters = try await Self.decodeClusters(rows)
        var next: String? = nil
        if clusters.count > limit {
            clusters.removeLast()
            next = clusters.last?.name
        }
        return Page(items: clusters, nextCursor: next)
    }

    /// Replaces labels and/or the gateway address.
    public func updateCluster(_ name: String, _ update: ClusterUpdate, actor: String) async throws -> Cluster {
        try update.validate()
        return try await transaction { connection in
            guard let before = try await cluster(named: name, on: connection, lock: true) else { throw APIError.notFound("cluster", name) }
            let labels = try update.labels.map { try Self.json($0) }
            try await connection.query("""
                UPDATE clusters SET labels = COALESCE(\(labels)::jsonb, labels),
                    gateway_address = COALESCE(\(update.gatewayAddress), gateway_address), updated_at = now()
                WHERE name = \(name)
                """, logger: logger)
            let after = try await cluster(named: name, on: connection)!
            try await audit(connection, actor: actor, action: "cluster.update", objectType: "cluster", objectName: name, before: before, after: after)
            return after
        }
    }

    /// Removes a cluster, its tokens, inventory, services and cluster prices, and revokes its certificates.
    /// Returns the revoked serials.
    @discardableResult
    public func removeCluster(_ name: String, actor: String) async throws -> [String] {
        try await transaction { connection in
            guard let before = try await cluster(named: name, on: connection, lock: true) else { throw APIError.notFound("cluster", name) }
            let rows = try await connection.query("""
                UPDATE certificates SET revoked_at = now() WHERE cluster = \(name) AND revoked_at IS NULL RETURNING serial
                """, logger: logger)
            var revoked: [String] = []
            for try await serial in rows.decode(String.self) { revoked.append(serial) }
            try await connection.query("DELETE FROM clusters WHERE name = \(name)", logger: logger)
            try await connection.query("DELETE FROM routing_tables WHERE cluster = \(name)", logger: logger)
            try await connection.query("DELETE FROM config_status WHERE cluster = \(name)", logger: logger)
            try await connection.query("DELETE FROM probes WHERE from_cluster = \(name) OR to_cluster = \(name)", logger: logger)
            struct Removal: Encodable { var revokedSerials: [String] }
            try await audit(connection, actor: actor, action: "cluster.remove", objectType: "cluster", objectName: name,
                            before: before, after: Removal(revokedSerials: revoked))
            return revoked
        }
    }

    /// Sets a cluster's status (failure detector); audits only actual changes. Returns true when it changed.
    @discardableResult
    public func setClusterStatus(_ name: String, _ status: ClusterStatus, reason: String, actor: String = "system") async throws -> Bool {
        try await transaction { connection in
            guard let before = try await cluster(named: name, on: connection, lock: true) else { return false }
            guard before.status != status else { return false }
            try await connection.query("UPDATE clusters SET status = \(status.rawValue), updated_at = now() WHERE name = \(name)", logger: logger)
            struct Transition: Encodable { var status: ClusterStatus; var reason: String }
            try await audit(connection, actor: actor, action: "cluster.\(status.rawValue)", objectType: "cluster", objectName: name,
                            before: Transition(status: before.status, reason: ""), after: Transition(status: status, reason: reason))
            return true
        }
    }
}
