/// Why a peer's certificate was refused, with a message for a log line.
///
/// `description` is the message, for example `certificate expired at 2025-03-01T12:00:00Z` or
/// `wrong trust domain 'other.example', expected 'mesh.example'`.
public struct PeerVerificationFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of refusal, stable for metrics labels and tests.
    public enum Reason: String, Sendable, Hashable, CaseIterable {
        /// The peer presented no certificate.
        case noCertificate = "no_certificate"
        /// A presented certificate could not be parsed.
        case malformedCertificate = "malformed_certificate"
        /// The chain does not lead to a root in the trust bundle (wrong CA, or a retired root).
        case untrustedIssuer = "untrusted_issuer"
        /// A certificate of the chain is past its notAfter.
        case expired
        /// A certificate of the chain is before its notBefore.
        case notYetValid = "not_yet_valid"
        /// The chain breaks another RFC 5280 rule (basic constraints, name constraints, version, ...).
        case invalidChain = "invalid_chain"
        /// The leaf has no gateway SPIFFE ID (`spiffe://TD/cluster/NAME/gateway`) as its URI SAN, or is a CA.
        case notAGatewayIdentity = "not_a_gateway_identity"
        /// The SPIFFE ID belongs to another trust domain.
        case wrongTrustDomain = "wrong_trust_domain"
        /// The SPIFFE ID names another cluster than the one expected on this connection.
        case wrongCluster = "wrong_cluster"
        /// The leaf's serial is in the revocation list that the hub's routing table carries.
        case revoked
        /// The leaf's extended key usage does not allow the role it plays (a serverAuth-only certificate as client).
        case wrongKeyUsage = "wrong_key_usage"
    }

    /// The kind of refusal.
    public var reason: Reason
    /// A sentence for a log line that says why.
    public var message: String
    /// The SPIFFE ID the certificate claimed, when it had one.
    public var spiffeID: String?
    /// The leaf's serial (lowercase hex), when the leaf could be parsed.
    public var serial: String?

    /// Creates a failure.
    public init(reason: Reason, message: String, spiffeID: String? = nil, serial: String? = nil) {
        self.reason = reason
        self.message = message
        self.spiffeID = spiffeID
        self.serial = serial
    }

    public var description: String { message }
}
