import Foundation
import MeridianModel
import PostgresNIO

extension MeridianStore {
    /// Creates or replaces a service export.
    public func putService(cluster: String, name: String, _ spec: ServiceExportSpec, actor: String) async throws -> ServiceExport {
        try Validate.dnsLabel(name, field: "name")
        try spec.validate()
        return try await transaction { connection in
            guard try await self.cluster(named: cluster, on: connection) != nil else { throw APIError.notFound("cluster", cluster) }
            let before = try await services(cluster: cluster, name: name, on: connection).first
            let labels = try Self.json(spec.labels ?? [:])
            try await connection.query("""
                INSERT INTO services (cluster, name, version, protocol, port, default_data_class, labels)
                VALUES (\(cluster), \(name), \(spec.version ?? "v1"), \(spec.protocol?.rawValue ?? "http"), \(spec.port),
                        \(spec.defaultDataClass), \(labels)::jsonb)
                ON CONFLICT (cluster, name) DO UPDATE SET version = EXCLUDED.version, protocol = EXCLUDED.protocol,
                    port = EXCLUDED.port, default_data_class = EXCLUDED.default_data_class, labels = EXCLUDED.labels, updated_at = now()
                """, logger: logger)
            let after = try await services(cluster: cluster, name: name, on: connection).first!
            try await audit(connection, actor: actor, action: before == nil ? "service.create" : "service.update",
                            objectType: "service", objectName: "\(cluster)/\(name)", before: before, after: after)
            return after
        }
    }

    /// Removes a service export; 404 when absent.
    public func removeService(cluster: String, name: String, actor: String) async throws {
        try await transaction { connection in
            guard let before = try await services(cluster: cluster, name: name, on: connection).first else {
                throw APIError.notFound("service", "\(cluster)/\(name)")
            }
            try await connection.query("DELETE FROM services WHERE cluster = \(cluster) AND name = \(name)", logger: logger)
            try await audit(connection, actor: actor, action: "service.remove", objectType: "service", objectName: "\(cluster)/\(name)",
                            before: before, after: Nothing?.none)
        }
    }

    /// Service exports, optionally of one cluster and/or one name.
    public func services(cluster: String? = nil, name: String? = nil) async throws -> [ServiceExport] {
        try await client.withConnection { connection in try await services(cluster: cluster, name: name, on: connection) }
    }

    func services(cluster: String?, name: String?, on connection: PostgresConnection) async throws -> [ServiceExport] {
        let rows = try await connection.query("""
            SELECT cluster, name, version, protocol, port, default_data_class, labels::text, updated_at FROM services
            WHERE (\(cluster)::text IS NULL OR cluster = \(cluster)) AND (\(name)::text IS NULL OR name = \(name))
            ORDER BY cluster, name
            """, logger: logger)
        var result: [ServiceExport] = []
        for try await (cluster, name, version, proto, port, dataClass, labels, updated)
            in rows.decode((String, String, String, String, Int, String?, String, Date).self) {
            result.append(ServiceExport(cluster: cluster, name: name, version: version, protocol: ServiceProtocol(rawValue: proto) ?? .http,
                                        port: port, defaultDataClass: dataClass, labels: try Self.decode([String: String].self, labels), updatedAt: updated))
        }
        return result
    }
}
