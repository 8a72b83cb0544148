#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeridianModel
import MeridianPKI
import NIOSSL

/// The gateway's mesh identity: its certificate chain and key, the trust bundle, and what the certificate says.
///
/// Kept in the data directory as `gateway-key.pem` (mode 0600), `gateway-chain.pem` and `trust-bundle.pem`.
public struct GatewayIdentity: Sendable, Hashable {
    public static let keyFileName = "gateway-key.pem"
    public static let chainFileName = "gateway-chain.pem"
    public static let trustBundleFileName = "trust-bundle.pem"

    public var chainPEM: String
    public var privateKeyPEM: String
    public var trustBundlePEM: String
    public var spiffeID: String
    /// Lowercase hex.
    public var serial: String
    public var notBefore: Date
    public var notAfter: Date
    /// When this gateway received the certificate (the chain file's time when loaded from disk). The hub backdates
    /// `notBefore` by five minutes for clock skew, so the lifetime that renewal divides starts here.
    public var obtainedAt: Date

    /// Checks the chain against the bundle (it must be a gateway certificate of `cluster` in `trustDomain`, valid
    /// now) and reads its dates.
    public init(chainPEM: String, privateKeyPEM: String, trustBundlePEM: String, cluster: String, trustDomain: String,
                obtainedAt: Date = Date()) async throws(GatewayError) {
        let verifier: PeerIdentityVerifier
        do {
            verifier = try PeerIdentityVerifier(trustBundlePEM: trustBundlePEM, trustDomain: trustDomain)
        } catch {
            throw GatewayError(.invalidIdentity, "the trust bundle cannot be used: \(error)")
        }
        let identity: PeerIdentity
        switch await verifier.verify(chainPEM: chainPEM, as: .server, expectedCluster: cluster) {
        case .success(let verified): identity = verified
        case .failure(let failure):
            throw GatewayError(.invalidIdentity, "the gateway certificate cannot be used for cluster '\(cluster)': \(failure.message)")
        }
        let leaf: NIOSSLCertificate
        do {
            guard let first = try NIOSSLCertificate.fromPEMBytes(Array(chainPEM.utf8)).first else {
                throw GatewayError(.invalidIdentity, "the certificate chain holds no certificate")
            }
            leaf = first
            _ = try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem)
        } catch let error as GatewayError {
            throw error
        } catch {
            throw GatewayError(.invalidIdentity, "cannot load the gateway certificate or key: \(error)")
        }
        self.chainPEM = chainPEM
        self.privateKeyPEM = privateKeyPEM
        self.trustBundlePEM = trustBundlePEM
        self.spiffeID = identity.spiffeID
        self.serial = identity.serial
        self.notAfter = identity.notAfter
        self.notBefore = Date(timeIntervalSince1970: TimeInterval(leaf.notValidBefore))
        self.obtainedAt = min(max(obtainedAt, notBefore), notAfter)
    }

    /// When to renew: two thirds into the certificate's lifetime, counted from when it was obtained (a 24 h
    /// certificate is renewed 16 h after it arrived; a 30 s one after 20 s).
    public var renewalDate: Date {
        obtainedAt.addingTimeInterval(notAfter.timeIntervalSince(obtainedAt) * 2 / 3)
    }

    /// Whether the data directory holds an identity.
    public static func exists(in directory: String) -> Bool {
        [keyFileName, chainFileName, trustBundleFileName].allSatisfy { SecureFile.exists(SecureFile.path(directory, $0)) }
    }

    /// Loads the identity from PEM files.
    public static func load(chainPath: String, keyPath: String, trustBundlePath: String, cluster: String, trustDomain: String) async throws(GatewayError) -> GatewayIdentity {
        let written = (try? FileManager.default.attributesOfItem(atPath: chainPath)[.modificationDate]) as? Date
        return try await GatewayIdentity(chainPEM: SecureFile.read(chainPath), privateKeyPEM: SecureFile.read(keyPath),
                                         trustBundlePEM: SecureFile.read(trustBundlePath), cluster: cluster, trustDomain: trustDomain,
                                         obtainedAt: written ?? .distantPast)
    }

    /// Loads the identity from the data directory.
    public static func load(directory: String, cluster: String, trustDomain: String) async throws(GatewayError) -> GatewayIdentity {
        try await load(chainPath: SecureFile.path(directory, chainFileName), keyPath: SecureFile.path(directory, keyFileName),
                       trustBundlePath: SecureFile.path(directory, trustBundleFileName), cluster: cluster, trustDomain: trustDomain)
    }

    /// Writes the identity to the data directory: the key (0600) first, then the chain and bundle (0644).
    public func write(to directory: String) throws(GatewayError) {
        try SecureFile.makeDirectory(directory)
        try SecureFile.write(privateKeyPEM, to: SecureFile.path(directory, Self.keyFileName), mode: 0o600)
        try SecureFile.write(chainPEM, to: SecureFile.path(directory, Self.chainFileName), mode: 0o644)
        try SecureFile.write(trustBundlePEM, to: SecureFile.path(directory, Self.trustBundleFileName), mode: 0o644)
    }
}
