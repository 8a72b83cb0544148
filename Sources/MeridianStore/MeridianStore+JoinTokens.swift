import Foundation
import MeridianModel
import PostgresNIO

extension MeridianStore {
    /// Creates a one-time join token for `cluster`; the secret is returned once.
    public func createJoinToken(cluster: String, ttlSeconds: Int, actor: String) async throws -> JoinToken {
        try await transaction { connection in
            guard try await self.cluster(named: cluster, on: connection) != nil else { throw APIError.notFound("cluster", cluster) }
            let secret = TokenSecret.generate(prefix: "mjt")
            let id = TokenSecret.id()
            let expires = Date().addingTimeInterval(TimeInterval(ttlSeconds))
            try await connection.query("""
                INSERT INTO join_tokens (id, cluster, secret_hash, expires_at, created_by)
                VALUES (\(id), \(cluster), \(TokenSecret.hash(secret)), \(expires), \(actor))
                """, logger: logger)
            let record = JoinToken(id: id, cluster: cluster, token: nil, expiresAt: expires)
            try await audit(connection, actor: actor, action: "join-token.create", objectType: "cluster", objectName: cluster,
                            before: Nothing?.none, after: record)
            var shown = record
            shown.token = secret
            return shown
        }
    }

    /// Consumes a join token for `cluster`. A reused, expired, unknown or mismatched token is refused (403) and the
    /// refusal is audited in its own transaction.
    public func consumeJoinToken(cluster: String, secret: String) async throws {
        let hash = TokenSecret.hash(secret)
        let outcome: String? = try await transaction { connection in
            let rows = try await connection.query("""
                SELECT id, cluster, expires_at, used_at FROM join_tokens WHERE secret_hash = \(hash) FOR UPDATE
                """, logger: logger)
            var found: (String, String, Date, Date?)? = nil
            for try await row in rows.decode((String, String, Date, Date?).self) { found = row }
            guard let (id, boundCluster, expires, used) = found else { return "unknown token" }
            if used != nil { return "token \(id) was already used" }
            if expires < Date() { return "token \(id) expired at \(ISO8601DateFormatter().string(from: expires))" }
            if boundCluster != cluster { return "token \(id) is bound to cluster '\(boundCluster)', not '\(cluster)'" }
            try await connection.query("UPDATE join_tokens SET used_at = now() WHERE id = \(id)", logger: logger)
            struct Use: Encodable { var tokenId: String }
            try await audit(connection, actor: "cluster:\(cluster)", action: "join-token.use", objectType: "cluster", objectName: cluster,
                            before: Nothing?.none, after: Use(tokenId: id))
            return nil
        }
        if let outcome {
            try await transaction { connection in
                struct Refusal: Encodable { var reason: String }
                try await audit(connection, actor: "cluster:\(cluster)", action: "join-token.refused", objectType: "cluster", objectName: cluster,
                                before: Nothing?.none, after: Refusal(reason: outcome))
            }
            throw APIError(status: 403, code: .invalidToken, message: "join refused: \(outcome); ask a platform operator for a new token (meridian cluster join-token \(cluster))", field: "token")
        }
    }
}
