@_spi(FixedExpiryValidationTime) import X509
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOSSL
import SwiftASN1
import Synchronization

/// Decides whether a certificate chain presented by a mesh peer is acceptable, and who the peer is.
///
/// A chain is accepted when it leads to a root of the trust bundle (swift-certificates `Verifier` with
/// `RFC5280Policy`: signatures, validity times, basic constraints) and its leaf passes the mesh rules: exactly one
/// SPIFFE ID, a gateway ID (`spiffe://TRUST-DOMAIN/cluster/NAME/gateway`) in this trust domain, the expected
/// cluster when one is given, a serial that is not revoked, and an extended key usage that fits the peer's role.
///
/// One verifier serves every connection of a gateway. The trust bundle and the revoked serials change while it runs
/// (each routing-table push carries both): call ``update(trustBundle:)`` and ``update(revokedSerials:)``; the next
/// handshake sees the new values.
public final class PeerIdentityVerifier: Sendable {
    private struct State: Sendable {
        var trustBundle: TrustBundle
        /// Normalised serials.
        var revokedSerials: Set<String>
    }

    /// The trust domain whose gateway IDs are accepted.
    public let trustDomain: String
    private let state: Mutex<State>

    /// Creates a verifier.
    ///
    /// - Parameters:
    ///   - trustBundle: the trusted roots.
    ///   - trustDomain: the mesh's SPIFFE trust domain.
    ///   - revokedSerials: serials to refuse, hex as in ``IssuedCertificate/serial`` (case, `:` separators and
    ///     leading zeros do not matter).
    public init(trustBundle: TrustBundle, trustDomain: String, revokedSerials: some Sequence<String> = [String]()) {
        self.trustDomain = trustDomain
        self.state = Mutex(State(trustBundle: trustBundle, revokedSerials: Set(revokedSerials.map(normalizedSerial))))
    }

    /// Creates a verifier from a PEM trust bundle, as routing tables and ``IssuedCertificate`` carry it.
    public convenience init(trustBundlePEM: String, trustDomain: String, revokedSerials: some Sequence<String> = [String]()) throws(MeshPKIError) {
        self.init(trustBundle: try TrustBundle(pem: trustBundlePEM), trustDomain: trustDomain, revokedSerials: revokedSerials)
    }

    /// The roots currently trusted.
    public var trustBundle: TrustBundle {
        state.withLock { $0.trustBundle }
    }

    /// The serials currently refused, normalised (lowercase hex, no separators, no leading zeros).
    public var revokedSerials: Set<String> {
        state.withLock { $0.revokedSerials }
    }

    /// Replaces the trusted roots (for a rotation: first old and new, later the new alone).
    public func update(trustBundle: TrustBundle) {
        state.withLock { $0.trustBundle = trustBundle }
    }

    /// Replaces the revoked serials with the list of the latest routing table.
    public func update(revokedSerials: some Sequence<String>) {
        let normalised = Set(revokedSerials.map(normalizedSerial))
        state.withLock { $0.revokedSerials = normalised }
    }

    /// Verifies a chain given as certificates, leaf first, then any intermediates the peer sent.
    ///
    /// - Parameters:
    ///   - chain: the presented chain, leaf first.
    ///   - role: the TLS role the peer plays; ``PeerRole/client`` needs EKU clientAuth, ``PeerRole/server`` serverAuth.
    ///   - expectedCluster: when set, the peer must be this cluster's gateway.
    ///   - now: the time to check validity at.
    /// - Returns: the peer's identity, or why it was refused.
    public func verify(chain: [Certificate], as role: PeerRole, expectedCluster: String? = nil, now: Date = Date()) async -> Result<PeerIdentity, PeerVerificationFailure> {
        await verifyReturningChain(chain, as: role, expectedCluster: expectedCluster, now: now).map(\.identity)
    }

    /// Verifies a chain given as PEM (leaf first), such as ``IssuedCertificate/chainPEM``.
    public func verify(chainPEM: String, as role: PeerRole, expectedCluster: String? = nil, now: Date = Date()) async -> Result<PeerIdentity, PeerVerificationFailure> {
        guard !chainPEM.allSatisfy(\.isWhitespace) else {
            return .failure(.init(reason: .noCertificate, message: "the peer presented no certificate"))
        }
        let chain: [Certificate]
        do {
            chain = try Certificate.parseAll(pem: chainPEM, what: "peer chain")
        } catch {
            return .failure(.init(reason: .malformedCertificate, message: error.message))
        }
        return await verify(chain: chain, as: role, expectedCluster: expectedCluster, now: now)
    }

    /// Verifies the chain NIOSSL hands to a custom verification callback, leaf first.
    public func verify(certificates: [NIOSSLCertificate], as role: PeerRole, expectedCluster: String? = nil, now: Date = Date()) async -> Result<PeerIdentity, PeerVerificationFailure> {
        await verifyPresented(certificates, as: role, expectedCluster: expectedCluster, now: now).map(\.identity)
    }

    /// As ``verify(certificates:as:expectedCluster:now:)``, also returning the validated chain (leaf to root).
    func verifyPresented(_ certificates: [NIOSSLCertificate], as role: PeerRole, expectedCluster: String?, now: Date) async -> Result<(identity: PeerIdentity, chain: [Certificate]), PeerVerificationFailure> {
        var chain: [Certificate] = []
        for certificate in certificates {
            do {
                chain.append(try Certificate(derEncoded: certificate.toDERBytes()))
            } catch {
                return .failure(.init(reason: .malformedCertificate, message: "the peer presented a certificate that cannot be parsed: \(error)"))
            }
        }
        return await verifyReturningChain(chain, as: role, expectedCluster: expectedCluster, now: now)
    }

    func verifyReturningChain(_ chain: [Certificate], as role: PeerRole, expectedCluster: String?, now: Date) async -> Result<(identity: PeerIdentity, chain: [Certificate]), PeerVerificationFailure> {
        guard let leaf = chain.first else {
            return .failure(.init(reason: .noCertificate, message: "the peer presented no certificate"))
        }
        let snapshot = state.withLock { $0 }
        let identityPolicy = GatewayIdentityPolicy(
            trustDomain: trustDomain, role: role, expectedCluster: expectedCluster, revokedSerials: snapshot.revokedSerials)
        var verifier = Verifier(rootCertificates: CertificateStore(snapshot.trustBundle.roots)) {
            RFC5280Policy(fixedExpiryValidationTime: now)
            identityPolicy
        }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(chain.dropFirst()))
        switch result {
        case .validCertificate(let validated):
            switch identityPolicy.evaluate(leaf: leaf) {
            case .success(let identity):
                return .success((identity, Array(validated)))
            case .failure(let failure):
                return .failure(failure)
            }
        case .couldNotValidate(let policyFailures):
            return .failure(Self.diagnose(leaf: leaf, policyFailures: policyFailures, identityPolicy: identityPolicy, now: now))
        }
    }

    /// Turns the Verifier's verdict into one reason. No candidate chain at all means no trusted root signed it;
    /// otherwise a chain was found and failed a policy: find which rule, most specific first.
    private static func diagnose(leaf: Certificate, policyFailures: [CertificateValidationResult.PolicyFailure], identityPolicy: GatewayIdentityPolicy, now: Date) -> PeerVerificationFailure {
        let spiffeID = leaf.uriSANs.first { $0.lowercased().hasPrefix("spiffe://") }
        let serial = leaf.serialHex
        guard let firstFailure = policyFailures.first else {
            return .init(
                reason: .untrustedIssuer,
                message: "certificate \(leaf.displayName) (issuer '\(leaf.issuer)') does not chain to a trusted mesh root",
                spiffeID: spiffeID, serial: serial)
        }
        for (index, certificate) in firstFailure.chain.enumerated() {
            let what = index == 0 ? "certificate \(leaf.displayName)" : "CA certificate '\(certificate.subject)'"
            if now < certificate.notValidBefore {
                return .init(reason: .notYetValid, message: "\(what) is not valid before \(formatDate(certificate.notValidBefore))", spiffeID: spiffeID, serial: serial)
            }
            if now > certificate.notValidAfter {
                return .init(reason: .expired, message: "\(what) expired at \(formatDate(certificate.notValidAfter))", spiffeID: spiffeID, serial: serial)
            }
        }
        if case .failure(let failure) = identityPolicy.evaluate(leaf: leaf) {
            return failure
        }
        return .init(reason: .invalidChain, message: "certificate \(leaf.displayName) was refused: \(firstFailure.policyFailureReason)", spiffeID: spiffeID, serial: serial)
    }
}
