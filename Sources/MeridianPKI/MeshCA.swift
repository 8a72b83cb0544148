import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeridianModel
import SwiftASN1
import X509

/// The mesh's certificate authority: the hub's root (or an operator-provided intermediate) that issues the gateways'
/// SPIFFE certificates and the hub's own TLS certificate.
///
/// Create or load it with ``loadOrCreate(directory:trustDomain:now:)``; the private key stays in that directory with
/// file mode 0600. An operator who keeps the company's root offline provides an intermediate instead with
/// ``init(certificatePEM:privateKeyPEM:chainPEM:trustBundlePEM:trustDomain:)``.
public struct MeshCA: Sendable {
    /// File name of the CA certificate in the CA directory.
    public static let certificateFileName = "ca.pem"
    /// File name of the CA private key (PKCS#8 PEM, mode 0600) in the CA directory.
    public static let privateKeyFileName = "ca-key.pem"
    /// File name of the trust bundle in the CA directory; written during a rotation, absent before the first one.
    public static let trustBundleFileName = "trust-bundle.pem"
    /// How long before `now` issued certificates start to be valid, to absorb clock skew: 5 minutes.
    public static let backdating: TimeInterval = 5 * 60
    /// Default lifetime of a gateway certificate: 24 hours.
    public static let defaultGatewayLifetime: TimeInterval = 24 * 3600

    /// The SPIFFE trust domain, such as `mesh.example.com`.
    public let trustDomain: String
    /// The certificate that signs what this CA issues: the root, or the operator's intermediate.
    public let certificate: Certificate
    /// Certificates sent after an issued leaf: empty for a self-signed root, else the intermediate(s) up to (not
    /// including) a root.
    public let issuingChain: [Certificate]
    /// The roots every gateway trusts. Starts as this CA's root (or the operator's roots); rotation adds and retires.
    public var trustBundle: TrustBundle

    let privateKey: Certificate.PrivateKey

    /// The signing certificate as PEM.
    public var certificatePEM: String {
        (try? certificate.pemString) ?? ""
    }

    /// Every trusted root as PEM: what the hub puts in routing tables and in ``IssuedCertificate/trustBundlePEM``.
    public var trustBundlePEM: String {
        trustBundle.pem
    }

    init(trustDomain: String, certificate: Certificate, privateKey: Certificate.PrivateKey, issuingChain: [Certificate], trustBundle: TrustBundle) {
        self.trustDomain = trustDomain
        self.certificate = certificate
        self.privateKey = privateKey
        self.issuingChain = issuingChain
        self.trustBundle = trustBundle
    }

    /// Uses an operator-provided CA, typically an intermediate under the company's root.
    ///
    /// - Parameters:
    ///   - certificatePEM: the CA certificate that will sign gateway certificates (must be a CA with keyCertSign).
    ///   - privateKeyPEM: its private key, PKCS#8, SEC1 or PKCS#1 PEM.
    ///   - chainPEM: certificates above `certificatePEM`, in order, that peers need to build a path to a root; issued
    ///     chains carry them (self-signed roots in it are not sent). Empty when `certificatePEM` is itself a root.
    ///   - trustBundlePEM: the root(s) to trust. `nil`: the self-signed certificates among `certificatePEM` and
    ///     `chainPEM`.
    ///   - trustDomain: the SPIFFE trust domain.
    /// - Throws: ``MeshPKIError`` when the PEM cannot be parsed, the key does not match, the certificate is not a CA,
    ///   the trust domain is invalid or no root is known.
    public init(certificatePEM: String, privateKeyPEM: String, chainPEM: String = "", trustBundlePEM: String? = nil, trustDomain: String) throws(MeshPKIError) {
        try Self.validateTrustDomain(trustDomain)
        let certificates = try Certificate.parseAll(pem: certificatePEM, what: "CA certificate")
        guard let certificate = certificates.first else {
            throw MeshPKIError(.invalidPEM, "the CA certificate PEM holds no certificate")
        }
        let privateKey: Certificate.PrivateKey
        do {
            privateKey = try Certificate.PrivateKey(pemEncoded: privateKeyPEM)
        } catch {
            throw MeshPKIError(.invalidPEM, "the CA private key is not a PEM private key (PKCS#8, SEC1 or PKCS#1): \(error)")
        }
        guard privateKey.publicKey == certificate.publicKey else {
            throw MeshPKIError(.keyMismatch, "the CA private key does not belong to the CA certificate '\(certificate.subject)'")
        }
        guard certificate.isCertificateAuthority, (try? certificate.extensions.keyUsage)?.keyCertSign ?? true else {
            throw MeshPKIError(.notACertificateAuthority, "'\(certificate.subject)' is not a CA certificate (basicConstraints CA and keyUsage keyCertSign are needed)")
        }
        let chain = Array(certificates.dropFirst()) + (try Certificate.parseAll(pem: chainPEM, what: "CA chain"))
        let bundle: TrustBundle
        if let trustBundlePEM {
            bundle = try TrustBundle(pem: trustBundlePEM)
        } else {
            let roots = ([certificate] + chain).filter(\.isSelfSigned)
            guard !roots.isEmpty else {
                throw MeshPKIError(.emptyTrustBundle, "no root given: pass the operator's root certificate(s) as the trust bundle")
            }
            bundle = TrustBundle(roots: roots)
        }
        let issuing = certificate.isSelfSigned ? [] : [certificate] + chain.filter { !$0.isSelfSigned }
        self.init(trustDomain: trustDomain, certificate: certificate, privateKey: privateKey, issuingChain: issuing, trustBundle: bundle)
    }

    /// Creates a new self-signed root CA in memory: ECDSA P-256, valid for 10 years from `now` (minus
    /// ``backdating``), basicConstraints CA (path length 0), keyUsage keyCertSign and cRLSign, subject
    /// `CN=Meridian mesh CA <trustDomain>`.
    public static func create(trustDomain: String, now: Date = Date()) throws(MeshPKIError) -> MeshCA {
        try validateTrustDomain(trustDomain)
        let key = P256.Signing.PrivateKey()
        let privateKey = Certificate.PrivateKey(key)
        let notAfter = Calendar(identifier: .gregorian).date(byAdding: .year, value: 10, to: now) ?? now.addingTimeInterval(3653 * 86400)
        let root: Certificate
        do {
            let name = try DistinguishedName { CommonName(rootCommonName(trustDomain: trustDomain)) }
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: privateKey.publicKey)
            }
            root = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: privateKey.publicKey,
                notValidBefore: now.addingTimeInterval(-backdating), notValidAfter: notAfter,
                issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions, issuerPrivateKey: privateKey)
        } catch {
            throw MeshPKIError(.invalidName, "cannot create the root certificate for trust domain '\(trustDomain)': \(error)")
        }
        return MeshCA(trustDomain: trustDomain, certificate: root, privateKey: privateKey, issuingChain: [], trustBundle: TrustBundle(roots: [root]))
    }

    /// Loads the CA from `directory`, or creates a new root there on first start.
    ///
    /// Creating writes ``certificateFileName`` (mode 0644) and ``privateKeyFileName`` (PKCS#8, mode 0600); the
    /// directory is created with mode 0700 when missing. Loading also reads ``trustBundleFileName`` when present
    /// (written by a rotation).
    ///
    /// - Throws: ``MeshPKIError`` with ``MeshPKIError/Code/incompleteCA`` when only one of the two files exists,
    ///   ``MeshPKIError/Code/trustDomainMismatch`` when the root on disk was created for another trust domain, and
    ///   the errors of ``init(certificatePEM:privateKeyPEM:chainPEM:trustBundlePEM:trustDomain:)``.
    public static func loadOrCreate(directory: String, trustDomain: String, now: Date = Date()) throws(MeshPKIError) -> MeshCA {
        try validateTrustDomain(trustDomain)
        let certificatePath = path(directory, certificateFileName)
        let keyPath = path(directory, privateKeyFileName)
        switch (PKIFiles.exists(certificatePath), PKIFiles.exists(keyPath)) {
        case (true, true):
            return try load(directory: directory, trustDomain: trustDomain)
        case (false, false):
            try PKIFiles.makeDirectory(directory)
            let ca = try create(trustDomain: trustDomain, now: now)
            try ca.write(to: directory)
            return ca
        case (true, false):
            throw MeshPKIError(.incompleteCA, "\(certificatePath) exists but \(keyPath) does not; restore the key, or remove both to create a new CA")
        case (false, true):
            throw MeshPKIError(.incompleteCA, "\(keyPath) exists but \(certificatePath) does not; restore the certificate, or remove both to create a new CA")
        }
    }

    static func load(directory: String, trustDomain: String) throws(MeshPKIError) -> MeshCA {
        let certificatePath = path(directory, certificateFileName)
        let bundlePath = path(directory, trustBundleFileName)
        let bundlePEM = PKIFiles.exists(bundlePath) ? try PKIFiles.read(bundlePath) : nil
        var ca = try MeshCA(
            certificatePEM: try PKIFiles.read(certificatePath),
            privateKeyPEM: try PKIFiles.read(path(directory, privateKeyFileName)),
            trustBundlePEM: bundlePEM,
            trustDomain: trustDomain)
        if let name = ca.certificate.subjectCommonName, name.hasPrefix(rootCommonNamePrefix) {
            let created = String(name.dropFirst(rootCommonNamePrefix.count))
            guard created == trustDomain else {
                throw MeshPKIError(.trustDomainMismatch, "\(certificatePath) was created for trust domain '\(created)', not '\(trustDomain)'; every gateway identity names the trust domain, so keep '\(created)' or start from an empty CA directory")
            }
        }
        if ca.certificate.isSelfSigned { ca.trustBundle.add(ca.certificate) }
        return ca
    }

    /// Writes the key (0600) first, then the certificate (0644).
    func write(to directory: String, certificateFile: String = MeshCA.certificateFileName, keyFile: String = MeshCA.privateKeyFileName) throws(MeshPKIError) {
        let keyPEM: String
        do {
            keyPEM = try privateKey.serializeAsPEM().pemString + "\n"
        } catch {
            throw MeshPKIError(.unsupportedKey, "cannot encode the CA private key as PEM: \(error)")
        }
        try PKIFiles.write(keyPEM, to: Self.path(directory, keyFile), mode: 0o600)
        try PKIFiles.write(try certificate.pemString, to: Self.path(directory, certificateFile), mode: 0o644)
    }

    /// Writes ``trustBundle`` to ``trustBundleFileName`` in `directory`, so a restart loads the same bundle.
    public func writeTrustBundle(to directory: String) throws(MeshPKIError) {
        try PKIFiles.write(trustBundlePEM, to: Self.path(directory, Self.trustBundleFileName), mode: 0o644)
    }

    // MARK: Issuing

    /// Issues a gateway certificate for `cluster` from a PKCS#10 CSR.
    ///
    /// The CSR's self-signature must verify (proof that the gateway holds the key); everything else it asks for
    /// (subject, extensions) is ignored. The leaf has the URI SAN `spiffe://TRUST-DOMAIN/cluster/NAME/gateway`,
    /// EKU serverAuth and clientAuth, keyUsage digitalSignature, a random 20-byte serial, notBefore
    /// `now - 5 min`, notAfter `now + lifetime` (never after the CA's own expiry), and AKI/SKI.
    ///
    /// - Parameters:
    ///   - csrPEM: the gateway's CSR (`CERTIFICATE REQUEST` PEM) for an ECDSA P-256 or P-384 key.
    ///   - cluster: the cluster name the join token was bound to (a DNS label).
    ///   - lifetime: validity after `now`; default 24 hours.
    ///   - now: issuing time.
    /// - Throws: ``MeshPKIError`` with ``MeshPKIError/Code/invalidCSR`` (unparseable, bad signature),
    ///   ``MeshPKIError/Code/unsupportedKey`` or ``MeshPKIError/Code/invalidName``.
    public func issueGatewayCertificate(csrPEM: String, cluster: String, lifetime: TimeInterval = MeshCA.defaultGatewayLifetime, now: Date = Date()) throws(MeshPKIError) -> IssuedCertificate {
        do {
            try Validate.dnsLabel(cluster, field: "cluster")
        } catch {
            throw MeshPKIError(.invalidName, error.message)
        }
        let csr: CertificateSigningRequest
        do {
            csr = try CertificateSigningRequest(pemEncoded: csrPEM)
        } catch {
            throw MeshPKIError(.invalidCSR, "the CSR is not a PEM certificate signing request: \(error)")
        }
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw MeshPKIError(.invalidCSR, "the CSR's signature does not verify: it was not signed by the key it carries")
        }
        guard P256.Signing.PublicKey(csr.publicKey) != nil || P384.Signing.PublicKey(csr.publicKey) != nil else {
            throw MeshPKIError(.unsupportedKey, "the CSR's key is not ECDSA P-256 or P-384; generate one with GatewayKeyPair.generate(cluster:)")
        }
        let spiffeID = SPIFFEID.gateway(trustDomain: trustDomain, cluster: cluster)
        let leaf = try issueLeaf(
            publicKey: csr.publicKey,
            commonName: cluster,
            names: [.uniformResourceIdentifier(spiffeID)],
            usages: [.serverAuth, .clientAuth],
            lifetime: lifetime, now: now)
        let leafPEM = try leaf.pemString
        var chainPEM = leafPEM
        for certificate in issuingChain { chainPEM += try certificate.pemString }
        return IssuedCertificate(
            certificatePEM: leafPEM, chainPEM: chainPEM, trustBundlePEM: trustBundlePEM,
            spiffeID: spiffeID, serial: leaf.serialHex, notAfter: leaf.notValidAfter)
    }

    /// Issues a certificate and a new P-256 key for a TLS server, such as the hub's HTTPS listener.
    ///
    /// The certificate has EKU serverAuth only, so it cannot act as a mesh client (a gateway refuses it as a client
    /// certificate). Tests also use it, with `uris`, to make a serverAuth-only certificate that carries a SPIFFE ID.
    ///
    /// - Parameters:
    ///   - dnsNames: DNS SANs, such as `hub.example.com`.
    ///   - ipAddresses: IP SANs, IPv4 or IPv6 text, such as `127.0.0.1`.
    ///   - uris: URI SANs; empty by default.
    ///   - lifetime: validity after `now`; default 90 days.
    ///   - now: issuing time.
    /// - Returns: the chain (leaf, then ``issuingChain``) as PEM and the private key as PKCS#8 PEM.
    public func issueServerCertificate(dnsNames: [String], ipAddresses: [String] = [], uris: [String] = [], lifetime: TimeInterval = 90 * 86400, now: Date = Date()) throws(MeshPKIError) -> (certificatePEM: String, privateKeyPEM: String) {
        guard !(dnsNames.isEmpty && ipAddresses.isEmpty && uris.isEmpty) else {
            throw MeshPKIError(.invalidName, "a server certificate needs at least one DNS name, IP address or URI")
        }
        var names: [GeneralName] = []
        for dnsName in dnsNames {
            guard !dnsName.isEmpty, dnsName.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != 0x2f }) else {
                throw MeshPKIError(.invalidName, "'\(dnsName)' is not a DNS name")
            }
            names.append(.dnsName(dnsName))
        }
        for address in ipAddresses {
            guard let bytes = IPAddressBytes.parse(address) else {
                throw MeshPKIError(.invalidName, "'\(address)' is not an IPv4 or IPv6 address")
            }
            names.append(.ipAddress(ASN1OctetString(contentBytes: bytes[...])))
        }
        for uri in uris { names.append(.uniformResourceIdentifier(uri)) }
        let key = P256.Signing.PrivateKey()
        let leaf = try issueLeaf(
            publicKey: Certificate.PublicKey(key.publicKey),
            commonName: dnsNames.first ?? ipAddresses.first ?? "meridian server",
            names: names, usages: [.serverAuth], lifetime: lifetime, now: now)
        var chainPEM = try leaf.pemString
        for certificate in issuingChain { chainPEM += try certificate.pemString }
        return (chainPEM, key.pemRepresentation + "\n")
    }

    func issueLeaf(publicKey: Certificate.PublicKey, commonName: String, names: [GeneralName], usages: [ExtendedKeyUsage.Usage], lifetime: TimeInterval, now: Date) throws(MeshPKIError) -> Certificate {
        guard lifetime > 0 else {
            throw MeshPKIError(.invalidName, "a certificate lifetime must be positive, got \(lifetime) seconds")
        }
        let notAfter = min(now.addingTimeInterval(lifetime), certificate.notValidAfter)
        let authorityKeyID = (try? certificate.extensions.subjectKeyIdentifier)?.keyIdentifier
            ?? SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier
        do {
            let subject = try DistinguishedName {
                OrganizationName("Meridian")
                CommonName(commonName)
            }
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage(usages)
                SubjectAlternativeNames(names)
                SubjectKeyIdentifier(hash: publicKey)
                AuthorityKeyIdentifier(keyIdentifier: authorityKeyID)
            }
            return try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
                notValidBefore: now.addingTimeInterval(-Self.backdating), notValidAfter: notAfter,
                issuer: certificate.subject, subject: subject,
                extensions: extensions, issuerPrivateKey: privateKey)
        } catch {
            throw MeshPKIError(.invalidName, "cannot issue a certificate for '\(commonName)': \(error)")
        }
    }

    // MARK: Names

    static let rootCommonNamePrefix = "Meridian mesh CA "

    static func rootCommonName(trustDomain: String) -> String {
        rootCommonNamePrefix + trustDomain
    }

    static func path(_ directory: String, _ file: String) -> String {
        directory.appendingPath(component: file)
    }

    /// A SPIFFE trust domain: 1-255 characters of lowercase letters, digits, `.`, `-` and `_`.
    static func validateTrustDomain(_ trustDomain: String) throws(MeshPKIError) {
        let ok = !trustDomain.isEmpty && trustDomain.utf8.count <= 255 && trustDomain.utf8.allSatisfy {
            ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2e || $0 == 0x2d || $0 == 0x5f
        }
        guard ok else {
            throw MeshPKIError(.invalidName, "'\(trustDomain)' is not a SPIFFE trust domain: use lowercase letters, digits, '.', '-' and '_', such as 'mesh.example.com'")
        }
    }
}
