#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A verified mesh peer: who presented the certificate, as established by ``PeerIdentityVerifier``.
public struct PeerIdentity: Sendable, Hashable, CustomStringConvertible {
    /// The peer's cluster name, from its SPIFFE ID.
    public var cluster: String
    /// The full SPIFFE ID, `spiffe://TRUST-DOMAIN/cluster/NAME/gateway`.
    public var spiffeID: String
    /// The leaf's serial number, lowercase hex without separators (as ``IssuedCertificate/serial``).
    public var serial: String
    /// When the peer's certificate expires.
    public var notAfter: Date

    /// Creates an identity.
    public init(cluster: String, spiffeID: String, serial: String, notAfter: Date) {
        self.cluster = cluster
        self.spiffeID = spiffeID
        self.serial = serial
        self.notAfter = notAfter
    }

    public var description: String { "\(spiffeID) (serial \(serial))" }
}
