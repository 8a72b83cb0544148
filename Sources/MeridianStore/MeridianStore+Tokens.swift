import Foundation
import MeridianModel
import PostgresNIO

extension MeridianStore {
    /// Creates an API token; the secret is returned once and stored hashed.
    public func createToken(_ request: TokenCreateRequest, actor: String, secret: String? = nil) async throws -> APIToken {
        try request.validate()
        return try await transaction { connection in
            let existing = try await connection.query("SELECT 1 FROM api_tokens WHERE name = \(request.name)", logger: logger)
            for try await _ in existing { throw APIError.conflict("a token named '\(request.name)' exists; pick another name", field: "name") }
            let secret = secret ?? TokenSecret.generate(prefix: "mrd")
            let id = TokenSecret.id()
            let expires = request.ttlSeconds.map { Date().addingTimeInterval(TimeInterval($0)) }
            let rows = try await connection.query("""
                INSERT INTO api_tokens (id, name, role, secret_hash, expires_at)
                VALUES (\(id), \(request.name), \(request.role.rawValue), \(TokenSecret.hash(secret)), \(expires))
                RETURNING created_at
                """, logger: logger)
            var created = Date()
            for try await at in rows.decode(Date.self) { created = at }
            let token = APIToken(id: id, name: request.name, role: request.role, createdAt: created, expiresAt: expires)
            try await audit(connection, actor: actor, action: "token.create", objectType: "token", objectName: request.name,
                            before: Nothing?.none, after: token)
            var shown = token
            shown.secret = secret
            return shown
        }
    }

    /// Creates the first admin token when there is no token at all. Returns it (with its secret) or nil.
    public func bootstrapAdminToken(secret: String?) async throws -> APIToken? {
        try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(7431002)", logger: logger)
            let rows = try await connection.query("SELECT count(*) FROM api_tokens", logger: logger)
            var count = 0
            for try await n in rows.decode(Int.self) { count = n }
            guard count == 0 else { return nil }
            let secret = secret ?? TokenSecret.generate(prefix: "mrd")
            let id = TokenSecret.id()
            try await connection.query("""
                INSERT INTO api_tokens (id, name, role, secret_hash) VALUES (\(id), 'bootstrap-admin', 'admin', \(TokenSecret.hash(secret)))
                """, logger: logger)
            let token = APIToken(id: id, name: "bootstrap-admin", role: .admin, createdAt: Date(), expiresAt: nil)
            try await audit(connection, actor: "system", action: "token.create", objectType: "token", objectName: token.name,
                            before: Nothing?.none, after: token)
            var shown = token
            shown.secret = secret
            return shown
        }
    }

    /// The token a secret belongs to, if valid (not expired, not revoked).
    public func authenticate(secret: String) async throws -> APIToken? {
        let rows = try await client.query("""
            SELECT id, name, role, created_at, expires_at FROM api_tokens
            WHERE secret_hash = \(TokenSecret.hash(secret)) AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
            """, logger: logger)
        for try await (id, name, role, created, expires) in rows.decode((String, String, String, Date, Date?).self) {
            guard let role = Role(rawValue: role) else { return nil }
            return APIToken(id: id, name: name, role: role, createdAt: created, expiresAt: expires)
        }
        return nil
    }

    /// Active tokens (without secrets).
    public func tokens() async throws -> [APIToken] {
        let rows = try await client.query("""
            SELECT id, name, role, created_at, expires_at FROM api_tokens WHERE revoked_at IS NULL ORDER BY name
            """, logger: logger)
        var tokens: [APIToken] = []
        for try await (id, name, role, created, expires) in rows.decode((String, String, String, Date, Date?).self) {
            tokens.append(APIToken(id: id, name: name, role: Role(rawValue: role) ?? .viewer, createdAt: created, expiresAt: expires))
        }
        return tokens
    }

    /// Revokes a token by name.
    public func revokeToken(name: String, actor: String) async throws {
        try await transaction { connection in
            let rows = try await connection.query("""
                UPDATE api_tokens SET revoked_at = now() WHERE name = \(name) AND revoked_at IS NULL RETURNING id
                """, logger: logger)
            var found = false
            for try await _ in rows { found = true }
            guard found else { throw APIError.notFound("token", name) }
            try await audit(connection, actor: actor, action: "token.revoke", objectType: "token", objectName: name,
                            before: Nothing?.none, after: Nothing?.none)
        }
    }
}
