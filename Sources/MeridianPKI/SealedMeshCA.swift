import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeridianModel
import SwiftASN1
import X509

/// The operator's key that seals the CA's private key when the hub keeps the CA in the database (so hub replicas on
/// several machines share one CA without copying key files): 32 random bytes, written in base64
/// (`openssl rand -base64 32`).
public struct CAEncryptionKey: Sendable {
    let key: SymmetricKey
    /// The first 8 bytes of the key's SHA-256, in hex: names the key without revealing it, so a hub started with the
    /// wrong key can say which one sealed the CA.
    public let id: String

    /// Reads a base64 key of exactly 32 bytes (surrounding whitespace is ignored).
    public init(base64: String) throws(MeshPKIError) {
        guard let bytes = Data(base64Encoded: base64.trimmingWhitespaceAndNewlines()), bytes.count == 32 else {
            throw MeshPKIError(.invalidKey, "the CA encryption key must be 32 random bytes in base64 (make one with `openssl rand -base64 32`)")
        }
        key = SymmetricKey(data: bytes)
        id = SHA256.hash(data: bytes).prefix(8).hexString
    }

    /// A new random key, in base64.
    public static func generate() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }
}

extension MeshCA {
    /// Seals this CA's private key under `key`.
    public func sealed(with key: CAEncryptionKey) throws(MeshPKIError) -> SealedMeshCA {
        let keyPEM: String
        let certificateDER: [UInt8]
        let chainPEM: String
        do {
            keyPEM = try privateKey.serializeAsPEM().pemString
            certificateDER = try certificate.derBytes
            chainPEM = try issuingChain.dropFirst().map { try $0.pemString }.joined(separator: "\n")
        } catch {
            throw MeshPKIError(.unsupportedKey, "cannot encode the CA for sealing: \(error)")
        }
        let box: AES.GCM.SealedBox
        do {
            box = try AES.GCM.seal(Data(keyPEM.utf8), using: key.key, authenticating: certificateDER)
        } catch {
            throw MeshPKIError(.invalidKey, "cannot seal the CA key: \(error)")
        }
        guard let combined = box.combined else { throw MeshPKIError(.invalidKey, "cannot seal the CA key: no combined form") }
        return SealedMeshCA(trustDomain: trustDomain, certificatePEM: certificatePEM, chainPEM: chainPEM,
                            trustBundlePEM: trustBundlePEM, sealedKey: Array(combined), keyID: key.id)
    }

    /// Opens a CA sealed by ``sealed(with:)``.
    ///
    /// - Throws: ``MeshPKIError`` with ``MeshPKIError/Code/invalidKey`` when `key` is not the key that sealed it (the
    ///   message names both key ids), ``MeshPKIError/Code/trustDomainMismatch`` when it was made for another trust
    ///   domain, and the errors of ``init(certificatePEM:privateKeyPEM:chainPEM:trustBundlePEM:trustDomain:)``.
    public init(unsealing sealed: SealedMeshCA, with key: CAEncryptionKey, trustDomain: String) throws(MeshPKIError) {
        guard sealed.trustDomain == trustDomain else {
            throw MeshPKIError(.trustDomainMismatch, "the CA in the database was created for trust domain '\(sealed.trustDomain)', not '\(trustDomain)'; every gateway identity names the trust domain, so keep '\(sealed.trustDomain)'")
        }
        guard sealed.keyID == key.id else {
            throw MeshPKIError(.invalidKey, "the CA in the database is sealed under key \(sealed.keyID), and this hub was given key \(key.id); start it with the key the first hub used")
        }
        let certificate = try Certificate.parseAll(pem: sealed.certificatePEM, what: "CA certificate")
        guard let first = certificate.first else { throw MeshPKIError(.invalidPEM, "the CA certificate in the database holds no certificate") }
        let keyPEM: String
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.sealedKey)
            keyPEM = String(decoding: try AES.GCM.open(box, using: key.key, authenticating: try first.derBytes), as: UTF8.self)
        } catch {
            throw MeshPKIError(.invalidKey, "the CA key in the database cannot be opened with key \(key.id): it was altered, or belongs to another certificate")
        }
        try self.init(certificatePEM: sealed.certificatePEM, privateKeyPEM: keyPEM, chainPEM: sealed.chainPEM,
                      trustBundlePEM: sealed.trustBundlePEM, trustDomain: trustDomain)
    }
}
