#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeridianModel
import SwiftASN1
import X509

/// The mesh's own rules for a peer's leaf certificate, run by swift-certificates' `Verifier` after `RFC5280Policy`:
/// exactly one SPIFFE ID, a gateway ID in our trust domain, optionally the expected cluster, not a CA, not revoked,
/// and an extended key usage that fits the peer's role.
struct GatewayIdentityPolicy: VerifierPolicy, Sendable {
    /// SAN and EKU are checked here, so a certificate that marks them critical is still acceptable.
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [
        .X509ExtensionID.subjectAlternativeName,
        .X509ExtensionID.extendedKeyUsage,
    ]

    var trustDomain: String
    var role: PeerRole
    var expectedCluster: String?
    /// Normalised with `normalizedSerial`.
    var revokedSerials: Set<String>

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) -> PolicyEvaluationResult {
        switch evaluate(leaf: chain.leaf) {
        case .success:
            return .meetsPolicy
        case .failure(let failure):
            let message = failure.message
            return .failsToMeetPolicy(reason: "GatewayIdentityPolicy: \(message)")
        }
    }

    /// Checks the leaf alone; the chain itself is RFC5280Policy's and the Verifier's business.
    func evaluate(leaf: Certificate) -> Result<PeerIdentity, PeerVerificationFailure> {
        let serial = leaf.serialHex
        let names: SubjectAlternativeNames?
        do {
            names = try leaf.extensions.subjectAlternativeNames
        } catch {
            return .failure(.init(reason: .malformedCertificate, message: "certificate '\(leaf.subject)' has an unreadable subjectAlternativeName: \(error)", serial: serial))
        }
        let spiffeIDs = (names ?? SubjectAlternativeNames()).compactMap { name -> String? in
            guard case .uniformResourceIdentifier(let uri) = name, uri.lowercased().hasPrefix("spiffe://") else { return nil }
            return uri
        }
        guard let spiffeID = spiffeIDs.first else {
            return .failure(.init(reason: .notAGatewayIdentity, message: "certificate '\(leaf.subject)' has no SPIFFE ID (URI SAN spiffe://...)", serial: serial))
        }
        guard spiffeIDs.count == 1 else {
            return .failure(.init(reason: .notAGatewayIdentity, message: "certificate has \(spiffeIDs.count) SPIFFE IDs (\(spiffeIDs.joined(separator: ", "))); exactly one is allowed", spiffeID: spiffeID, serial: serial))
        }
        let claimedDomain = spiffeID.dropFirst("spiffe://".count).prefix { $0 != "/" }
        guard claimedDomain == trustDomain else {
            return .failure(.init(reason: .wrongTrustDomain, message: "wrong trust domain '\(claimedDomain)', expected '\(trustDomain)' (SPIFFE ID \(spiffeID))", spiffeID: spiffeID, serial: serial))
        }
        guard let parsed = SPIFFEID.parseGateway(spiffeID) else {
            return .failure(.init(reason: .notAGatewayIdentity, message: "SPIFFE ID \(spiffeID) is not a gateway identity (spiffe://\(trustDomain)/cluster/NAME/gateway)", spiffeID: spiffeID, serial: serial))
        }
        if leaf.isCertificateAuthority {
            return .failure(.init(reason: .notAGatewayIdentity, message: "certificate for \(spiffeID) is a CA certificate, not a gateway leaf", spiffeID: spiffeID, serial: serial))
        }
        if revokedSerials.contains(normalizedSerial(serial)) {
            return .failure(.init(reason: .revoked, message: "serial \(serial) of \(spiffeID) is revoked", spiffeID: spiffeID, serial: serial))
        }
        if let expectedCluster, parsed.cluster != expectedCluster {
            return .failure(.init(reason: .wrongCluster, message: "wrong cluster '\(parsed.cluster)', expected '\(expectedCluster)' (SPIFFE ID \(spiffeID))", spiffeID: spiffeID, serial: serial))
        }
        let needed: ExtendedKeyUsage.Usage = role == .server ? .serverAuth : .clientAuth
        let neededName = role == .server ? "serverAuth" : "clientAuth"
        let usages: ExtendedKeyUsage?
        do {
            usages = try leaf.extensions.extendedKeyUsage
        } catch {
            return .failure(.init(reason: .malformedCertificate, message: "certificate for \(spiffeID) has an unreadable extendedKeyUsage: \(error)", spiffeID: spiffeID, serial: serial))
        }
        guard let usages, usages.contains(needed) else {
            let has = usages.map { $0.map { "\($0)" }.joined(separator: ", ") } ?? "none"
            return .failure(.init(reason: .wrongKeyUsage, message: "certificate for \(spiffeID) is used as a TLS \(role.rawValue) but its extended key usage (\(has)) lacks \(neededName)", spiffeID: spiffeID, serial: serial))
        }
        if let keyUsage = try? leaf.extensions.keyUsage, !keyUsage.digitalSignature {
            return .failure(.init(reason: .wrongKeyUsage, message: "certificate for \(spiffeID) has keyUsage without digitalSignature", spiffeID: spiffeID, serial: serial))
        }
        return .success(PeerIdentity(cluster: parsed.cluster, spiffeID: spiffeID, serial: serial, notAfter: leaf.notValidAfter))
    }
}
