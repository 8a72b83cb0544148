import Foundation
import Logging
import MeridianModel
import PostgresNIO

/// PostgreSQL access for the hub: the only source of truth. Every mutation runs in one transaction that also
/// writes its audit row and a `NOTIFY meridian_changes`, so hub replicas and gateways learn of it.
public final class MeridianStore: Sendable {
    /// The notification channel every mutation signals on; the payload is `TYPE:NAME`.
    public static let changeChannel = "meridian_changes"
    /// The channel signalled when routing tables are published; the payload is the cluster name.
    public static let tableChannel = "meridian_tables"

    public let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Applies pending migrations, each in a transaction under an advisory lock.
    public func migrate() async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(7431001)", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
        }
        for migration in Migrations.all {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(7431001)", logger: logger)
                let rows = try await connection.query("SELECT 1 FROM schema_migrations WHERE version = \(migration.version)", logger: logger)
                var applied = false
                for try await _ in rows { applied = true }
                guard !applied else { return }
                for statement in migration.sql {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))", logger: logger)
                logger.info("applied migration", metadata: ["meridian.migration": "\(migration.version) \(migration.name)"])
            }
        }
    }

    /// Applied migration versions, ascending.
    public func appliedMigrations() async throws -> [Int] {
        let rows = try await client.query("SELECT version FROM schema_migrations ORDER BY version", logger: logger)
        var versions: [Int] = []
        for try await version in rows.decode(Int.self) { versions.append(version) }
        return versions
    }

    // MARK: - Shared helpers

    /// Runs `body` in a transaction and maps database errors to API errors.
    func transaction<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await body(connection)
            }
        } catch let error as PostgresTransactionError {
            if let closureError = error.closureError {
                if let psql = closureError as? PSQLError { throw Self.map(psql) }
                throw closureError
            }
            throw error
        } catch let error as PSQLError {
            throw Self.map(error)
        }
    }

    static func map(_ error: PSQLError) -> any Error {
        switch error.serverInfo?[.sqlState] {
        case "23505": return APIError.conflict("an object with that key already exists")
        case "23503": return APIError(status: 409, code: .conflict, message: "the object is referenced by, or refers to, another object that does not exist")
        case "23514": return APIError(status: 400, code: .invalidField, message: "a value is out of range: \(error.serverInfo?[.message] ?? "")")
        default: return error
        }
    }

    /// Writes an audit row and a change notification on `connection` (inside the caller's transaction).
    func audit<Before: Encodable, After: Encodable>(
        _ connection: PostgresConnection, actor: String, action: String, objectType: String, objectName: String,
        before: Before?, after: After?
    ) async throws {
        let beforeJSON = try before.map { try Self.json($0) }
        let afterJSON = try after.map { try Self.json($0) }
        try await connection.query("""
            INSERT INTO audit_log (actor, action, object_type, object_name, before, after)
            VALUES (\(actor), \(action), \(objectType), \(objectName), \(beforeJSON)::jsonb, \(afterJSON)::jsonb)
            """, logger: logger)
        try await connection.query("SELECT pg_notify(\(Self.changeChannel), \(objectType + ":" + objectName))", logger: logger)
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    static func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try decoder.decode(type, from: Data(text.utf8))
    }
}

/// An empty audit document, for actions with nothing before or after.
public struct Nothing: Codable, Sendable {}
