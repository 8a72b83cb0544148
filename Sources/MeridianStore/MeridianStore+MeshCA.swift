import Foundation
import MeridianModel
import NIOCore
import PostgresNIO

extension MeridianStore {
    /// The CA that hub replicas share, when the hub keeps it in the database (its key sealed); nil before the first
    /// hub stored one.
    public func sealedMeshCA() async throws -> SealedMeshCA? {
        let rows = try await client.query("""
            SELECT trust_domain, certificate_pem, chain_pem, trust_bundle_pem, sealed_key, key_id FROM mesh_ca WHERE id = 1
            """, logger: logger)
        for try await (domain, certificate, chain, bundle, sealed, keyID) in rows.decode((String, String, String, String, ByteBuffer, String).self) {
            return SealedMeshCA(trustDomain: domain, certificatePEM: certificate, chainPEM: chain, trustBundlePEM: bundle,
                                sealedKey: Array(buffer: sealed), keyID: keyID)
        }
        return nil
    }

    /// Stores `ca` unless a CA is stored already, and returns the one stored: when two replicas start at once, both
    /// end up with the first one's CA. The first store is audited (`ca.store`, certificate and key id, never the key).
    public func storeMeshCAIfAbsent(_ ca: SealedMeshCA, actor: String) async throws -> SealedMeshCA {
        try await transaction { connection in
            let inserted = try await connection.query("""
                INSERT INTO mesh_ca (id, trust_domain, certificate_pem, chain_pem, trust_bundle_pem, sealed_key, key_id)
                VALUES (1, \(ca.trustDomain), \(ca.certificatePEM), \(ca.chainPEM), \(ca.trustBundlePEM), \(ByteBuffer(bytes: ca.sealedKey)), \(ca.keyID))
                ON CONFLICT (id) DO NOTHING RETURNING id
                """, logger: logger)
            var stored = false
            for try await _ in inserted.decode(Int16.self) { stored = true }
            if stored {
                struct Stored: Encodable { var trustDomain: String; var certificatePEM: String; var keyID: String }
                try await audit(connection, actor: actor, action: "ca.store", objectType: "ca", objectName: ca.trustDomain,
                                before: Nothing?.none, after: Stored(trustDomain: ca.trustDomain, certificatePEM: ca.certificatePEM, keyID: ca.keyID))
            }
        }
        guard let current = try await sealedMeshCA() else {
            throw APIError(status: 500, code: .internalError, message: "the CA was stored but cannot be read back")
        }
        return current
    }
}
