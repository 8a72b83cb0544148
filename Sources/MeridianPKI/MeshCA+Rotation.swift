#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import X509

/// Root rotation in the CA directory, in three steps so that no request fails:
///
/// 1. ``stageRotation(directory:now:)``: a new root is made (`next-ca.pem`, `next-ca-key.pem`) and added to the
///    trust bundle (`trust-bundle.pem`); the CA still signs with the old root. Wait until every gateway has applied
///    a routing table carrying the new bundle.
/// 2. ``promoteStagedRoot(directory:)``: the new root becomes `ca.pem`/`ca-key.pem` and signs from now on; the old
///    key is deleted, the old root stays in the bundle. Wait until every gateway has renewed (at most one
///    certificate lifetime, 24 h by default).
/// 3. ``retireRoot(fingerprint:directory:)``: the old root leaves the bundle; leaves under it are refused from the
///    next table push on.
extension MeshCA {
    /// File name of a staged root's certificate.
    public static let stagedCertificateFileName = "next-ca.pem"
    /// File name of a staged root's private key (mode 0600).
    public static let stagedPrivateKeyFileName = "next-ca-key.pem"

    /// Step 1: makes a new root beside the current one (or reuses one already staged) and trusts both.
    ///
    /// - Returns: this CA, still signing with its current key, with the new root added to ``trustBundle``; the
    ///   bundle is also written to ``trustBundleFileName``.
    public func stageRotation(directory: String, now: Date = Date()) throws(MeshPKIError) -> MeshCA {
        let certificatePath = Self.path(directory, Self.stagedCertificateFileName)
        let keyPath = Self.path(directory, Self.stagedPrivateKeyFileName)
        let next: MeshCA
        if PKIFiles.exists(certificatePath) && PKIFiles.exists(keyPath) {
            next = try MeshCA(certificatePEM: try PKIFiles.read(certificatePath), privateKeyPEM: try PKIFiles.read(keyPath), trustDomain: trustDomain)
        } else {
            next = try MeshCA.create(trustDomain: trustDomain, now: now)
            try PKIFiles.makeDirectory(directory)
            try next.write(to: directory, certificateFile: Self.stagedCertificateFileName, keyFile: Self.stagedPrivateKeyFileName)
        }
        var staged = self
        staged.trustBundle.add(next.certificate)
        try staged.writeTrustBundle(to: directory)
        return staged
    }

    /// Step 2: the staged root becomes the signing CA; the previous key is deleted, its root stays trusted.
    ///
    /// - Throws: ``MeshPKIError/Code/rotationState`` when nothing is staged.
    public func promoteStagedRoot(directory: String) throws(MeshPKIError) -> MeshCA {
        let stagedCertificate = Self.path(directory, Self.stagedCertificateFileName)
        let stagedKey = Self.path(directory, Self.stagedPrivateKeyFileName)
        guard PKIFiles.exists(stagedCertificate), PKIFiles.exists(stagedKey) else {
            throw MeshPKIError(.rotationState, "no staged root in \(directory): run the staging step first")
        }
        var bundle = trustBundle
        let next = try MeshCA(certificatePEM: try PKIFiles.read(stagedCertificate), privateKeyPEM: try PKIFiles.read(stagedKey), trustDomain: trustDomain)
        bundle.add(next.certificate)
        var promoted = next
        promoted.trustBundle = bundle
        try promoted.writeTrustBundle(to: directory)
        try PKIFiles.move(stagedKey, to: Self.path(directory, Self.privateKeyFileName))
        try PKIFiles.move(stagedCertificate, to: Self.path(directory, Self.certificateFileName))
        return promoted
    }

    /// Step 3: removes a root from the trust bundle, named by its SHA-256 fingerprint (``TrustBundle/fingerprints``).
    ///
    /// - Throws: ``MeshPKIError/Code/rotationState`` for an unknown fingerprint, ``MeshPKIError/Code/emptyTrustBundle``
    ///   when asked to retire the root this CA signs under.
    public func retireRoot(fingerprint: String, directory: String) throws(MeshPKIError) -> MeshCA {
        var retired = self
        let wanted = fingerprint.lowercased().replacing(":", with: "")
        if certificate.isSelfSigned && certificate.sha256Fingerprint == wanted {
            throw MeshPKIError(.emptyTrustBundle, "root \(wanted) is the one this CA signs under; promote a new root before retiring it")
        }
        guard retired.trustBundle.retire(fingerprint: wanted) else {
            throw MeshPKIError(.rotationState, "no root with fingerprint \(wanted) in the trust bundle; known: \(trustBundle.fingerprints.joined(separator: ", "))")
        }
        try retired.writeTrustBundle(to: directory)
        return retired
    }
}
