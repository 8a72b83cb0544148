import Foundation
import MeridianModel
import PostgresNIO

/// One immutable version of a policy document.
public struct PolicyVersion: Codable, Sendable, Hashable {
    /// `residency` or `routing`.
    public var kind: String
    public var version: Int64
    public var document: String
    public var author: String
    public var diff: String
    public var createdAt: Date

    public init(kind: String, version: Int64, document: String, author: String, diff: String, createdAt: Date) {
        self.kind = kind
        self.version = version
        self.document = document
        self.author = author
        self.diff = diff
        self.createdAt = createdAt
    }
}

extension MeridianStore {
    /// Stores a new immutable policy version with its compiled form.
    public func storePolicy<Compiled: Codable & Sendable>(kind: String, document: String, compiled: Compiled, author: String, diff: String) async throws -> PolicyVersion {
        try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(7431003)", logger: logger)
            let before = try await latestPolicy(kind: kind, on: connection)
            let body = try Self.json(compiled)
            let rows = try await connection.query("""
                INSERT INTO policies (kind, document, compiled, author, diff) VALUES (\(kind), \(document), \(body)::jsonb, \(author), \(diff))
                RETURNING version, created_at
                """, logger: logger)
            var version: Int64 = 0
            var created = Date()
            for try await (v, at) in rows.decode((Int64, Date).self) { version = v; created = at }
            let stored = PolicyVersion(kind: kind, version: version, document: document, author: author, diff: diff, createdAt: created)
            try await audit(connection, actor: author, action: "policy.apply", objectType: "policy", objectName: kind,
                            before: before?.0, after: stored)
            return stored
        }
    }

    func latestPolicy(kind: String, on connection: PostgresConnection) async throws -> (PolicyVersion, String)? {
        let rows = try await connection.query("""
            SELECT version, document, author, diff, created_at, compiled::text FROM policies WHERE kind = \(kind) ORDER BY version DESC LIMIT 1
            """, logger: logger)
        for try await (version, document, author, diff, created, compiled) in rows.decode((Int64, String, String, String, Date, String).self) {
            return (PolicyVersion(kind: kind, version: version, document: document, author: author, diff: diff, createdAt: created), compiled)
        }
        return nil
    }

    /// The current version of a policy kind and its compiled form.
    public func currentPolicy<Compiled: Decodable>(kind: String, as type: Compiled.Type) async throws -> (PolicyVersion, Compiled)? {
        guard let (version, compiled) = try await client.withConnection({ connection in try await latestPolicy(kind: kind, on: connection) }) else { return nil }
        return (version, try Self.decode(type, compiled))
    }

    /// Every version of a policy kind, newest first.
    public func policyHistory(kind: String) async throws -> [PolicyVersion] {
        let rows = try await client.query("""
            SELECT version, document, author, diff, created_at FROM policies WHERE kind = \(kind) ORDER BY version DESC
            """, logger: logger)
        var result: [PolicyVersion] = []
        for try await (version, document, author, diff, created) in rows.decode((Int64, String, String, String, Date).self) {
            result.append(PolicyVersion(kind: kind, version: version, document: document, author: author, diff: diff, createdAt: created))
        }
        return result
    }
}
