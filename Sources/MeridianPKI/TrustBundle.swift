#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import X509

/// The set of root certificates the mesh trusts.
///
/// The hub carries the bundle in every routing table, so a gateway always verifies peers against the current set.
/// Rotation adds a new root beside the old one (``add(_:)``), lets every gateway renew under the new root, and then
/// retires the old root (``retire(_:)``): a leaf chains to a trusted root as long as its root is in the bundle.
public struct TrustBundle: Sendable, Hashable {
    /// The trusted roots, oldest first, without duplicates.
    public private(set) var roots: [Certificate]

    /// Creates a bundle from roots; duplicates are dropped.
    public init(roots: [Certificate]) {
        self.roots = []
        for root in roots { add(root) }
    }

    /// Parses a bundle from concatenated PEM `CERTIFICATE` blocks.
    ///
    /// - Throws: ``MeshPKIError`` with ``MeshPKIError/Code/invalidPEM`` when the PEM cannot be parsed,
    ///   ``MeshPKIError/Code/emptyTrustBundle`` when it holds no certificate, and
    ///   ``MeshPKIError/Code/notACertificateAuthority`` when a certificate is not a CA.
    public init(pem: String) throws(MeshPKIError) {
        let certificates = try Certificate.parseAll(pem: pem, what: "trust bundle")
        guard !certificates.isEmpty else {
            throw MeshPKIError(.emptyTrustBundle, "the trust bundle holds no certificate")
        }
        for certificate in certificates where !certificate.isCertificateAuthority {
            throw MeshPKIError(.notACertificateAuthority, "trust bundle entry '\(certificate.subject)' is not a CA certificate")
        }
        self.init(roots: certificates)
    }

    /// Every root as PEM, oldest first: the form that routing tables and ``IssuedCertificate`` carry.
    public var pem: String {
        roots.compactMap { try? $0.pemString }.joined()
    }

    /// SHA-256 fingerprints (lowercase hex of the DER) of the roots, in order; handy to name a root to retire.
    public var fingerprints: [String] {
        roots.map(\.sha256Fingerprint)
    }

    /// Whether `certificate` is one of the roots.
    public func contains(_ certificate: Certificate) -> Bool {
        roots.contains(certificate)
    }

    /// Adds a root beside the existing ones; adding a root twice changes nothing.
    public mutating func add(_ root: Certificate) {
        guard !roots.contains(root) else { return }
        roots.append(root)
    }

    /// Adds every certificate of a PEM bundle.
    public mutating func add(pem: String) throws(MeshPKIError) {
        for root in try TrustBundle(pem: pem).roots { add(root) }
    }

    /// Removes a root: leaves that chain only to it are refused from then on.
    public mutating func retire(_ root: Certificate) {
        roots.removeAll { $0 == root }
    }

    /// Removes the root whose SHA-256 fingerprint (lowercase or uppercase hex, `:` allowed) is given.
    ///
    /// - Returns: whether a root was removed.
    @discardableResult
    public mutating func retire(fingerprint: String) -> Bool {
        let wanted = fingerprint.lowercased().replacing(":", with: "")
        let before = roots.count
        roots.removeAll { $0.sha256Fingerprint == wanted }
        return roots.count != before
    }

    /// A copy with `root` added.
    public func adding(_ root: Certificate) -> TrustBundle {
        var copy = self
        copy.add(root)
        return copy
    }

    /// A copy with `root` retired.
    public func retiring(_ root: Certificate) -> TrustBundle {
        var copy = self
        copy.retire(root)
        return copy
    }
}
