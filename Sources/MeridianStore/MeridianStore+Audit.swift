import Foundation
import MeridianModel
import PostgresNIO

extension MeridianStore {
    /// Audit entries, newest first.
    public func auditLog(_ filter: AuditFilter = AuditFilter()) async throws -> Page<AuditEntry> {
        let limit = max(1, min(filter.limit, 1000))
        let rows = try await client.query("""
            SELECT id, at, actor, action, object_type, object_name, before::text, after::text FROM audit_log
            WHERE (\(filter.actor)::text IS NULL OR actor = \(filter.actor))
              AND (\(filter.action)::text IS NULL OR action = \(filter.action) OR action LIKE \(filter.action.map { $0 + ".%" }))
              AND (\(filter.objectType)::text IS NULL OR object_type = \(filter.objectType))
              AND (\(filter.objectName)::text IS NULL OR object_name = \(filter.objectName))
              AND (\(filter.since)::timestamptz IS NULL OR at >= \(filter.since))
              AND (\(filter.before)::bigint IS NULL OR id < \(filter.before))
            ORDER BY id DESC LIMIT \(limit + 1)
            """, logger: logger)
        var entries: [AuditEntry] = []
        for try await (id, at, actor, action, type, name, before, after)
            in rows.decode((Int64, Date, String, String, String, String, String?, String?).self) {
            entries.append(AuditEntry(id: id, at: at, actor: actor, action: action, objectType: type, objectName: name,
                                      before: try before.map { try Self.decode(JSONValue.self, $0) },
                                      after: try after.map { try Self.decode(JSONValue.self, $0) }))
        }
        var next: String? = nil
        if entries.count > limit {
            entries.removeLast()
            next = entries.last.map { String($0.id) }
        }
        return Page(items: entries, nextCursor: next)
    }

    /// Writes a standalone audit event (failure detector, refused joins, ...).
    public func recordEvent<After: Encodable>(actor: String, action: String, objectType: String, objectName: String, details: After) async throws {
        try await transaction { connection in
            try await audit(connection, actor: actor, action: action, objectType: objectType, objectName: objectName, before: Nothing?.none, after: details)
        }
    }

    /// Row counts of every table (tests use this to prove a refused request wrote nothing).
    public func rowCounts() async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for table in ["regions", "clusters", "join_tokens", "inventory", "prices", "services", "api_tokens", "audit_log",
                      "policies", "certificates", "routing_tables", "config_status", "probes", "settings"] {
            let rows = try await client.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)"), logger: logger)
            for try await n in rows.decode(Int.self) { counts[table] = n }
        }
        return counts
    }
}
