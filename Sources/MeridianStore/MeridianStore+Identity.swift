import Foundation
import MeridianModel
import PostgresNIO

extension MeridianStore {
    /// Records an issued gateway certificate.
    public func recordCertificate(_ issued: IssuedCertificate, cluster: String, notBefore: Date, actor: String) async throws {
        try await transaction { connection in
            guard try await self.cluster(named: cluster, on: connection) != nil else { throw APIError.notFound("cluster", cluster) }
            try await connection.query("""
                INSERT INTO certificates (serial, cluster, spiffe_id, not_before, not_after)
                VALUES (\(issued.serial), \(cluster), \(issued.spiffeID), \(notBefore), \(issued.notAfter))
                """, logger: logger)
            struct Issue: Encodable { var serial: String; var spiffeID: String; var notAfter: Date }
            try await audit(connection, actor: actor, action: "certificate.issue", objectType: "cluster", objectName: cluster,
                            before: Nothing?.none, after: Issue(serial: issued.serial, spiffeID: issued.spiffeID, notAfter: issued.notAfter))
        }
    }

    /// Serials revoked and not yet expired (expired ones are refused anyway).
    public func revokedSerials() async throws -> [String] {
        let rows = try await client.query("""
            SELECT serial FROM certificates WHERE revoked_at IS NOT NULL AND not_after > now() ORDER BY serial
            """, logger: logger)
        var serials: [String] = []
        for try await serial in rows.decode(String.self) { serials.append(serial) }
        return serials
    }

    /// Whether a serial is revoked.
    public func isRevoked(serial: String) async throws -> Bool {
        let rows = try await client.query("SELECT revoked_at IS NOT NULL FROM certificates WHERE serial = \(serial)", logger: logger)
        for try await revoked in rows.decode(Bool.self) { return revoked }
        return false
    }

    /// A setting (CA material encrypted by the operator's key, trust bundle, ...).
    public func setting(_ key: String) async throws -> String? {
        let rows = try await client.query("SELECT value FROM settings WHERE key = \(key)", logger: logger)
        for try await value in rows.decode(String.self) { return value }
        return nil
    }

    /// Sets a setting if it is absent; returns the value that holds afterwards.
    public func settingIfAbsent(_ key: String, _ value: String) async throws -> String {
        try await client.query("INSERT INTO settings (key, value) VALUES (\(key), \(value)) ON CONFLICT (key) DO NOTHING", logger: logger)
        return try await setting(key) ?? value
    }
}
