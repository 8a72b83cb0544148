import Crypto
import Foundation
import MeridianModel
import MeridianPKI
import SwiftASN1
import X509

/// A gateway's credentials as a test holds them.
struct GatewayCredentials: Sendable {
    var chainPEM: String
    var privateKeyPEM: String
    var serial: String
}

/// A fresh temporary directory, removed by `cleanup()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("meridian-pki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func cleanup() {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String {
        (path as NSString).appendingPathComponent(name)
    }
}

enum Fixture {
    static let trustDomain = "mesh.test"

    /// Issues a gateway certificate through the real join path: key pair, CSR, CA.
    static func gateway(_ cluster: String, ca: MeshCA, lifetime: TimeInterval = 3600, now: Date = Date()) throws -> GatewayCredentials {
        let (key, csr) = try GatewayKeyPair.generate(cluster: cluster)
        let issued = try ca.issueGatewayCertificate(csrPEM: csr, cluster: cluster, lifetime: lifetime, now: now)
        return GatewayCredentials(chainPEM: issued.chainPEM, privateKeyPEM: key, serial: issued.serial)
    }

    /// A serverAuth-only certificate that still carries a gateway SPIFFE ID.
    static func serverOnly(_ cluster: String, ca: MeshCA) throws -> GatewayCredentials {
        let (certificate, key) = try ca.issueServerCertificate(
            dnsNames: ["\(cluster).gateway.test"],
            uris: [SPIFFEID.gateway(trustDomain: ca.trustDomain, cluster: cluster)],
            lifetime: 3600)
        let leaf = try Certificate(pemEncoded: certificate)
        return GatewayCredentials(chainPEM: certificate, privateKeyPEM: key, serial: leaf.serialNumber.bytes.map { String(format: "%02x", $0) }.joined())
    }

    /// The first certificate (the leaf) of a PEM chain.
    static func firstCertificate(_ pem: String) throws -> Certificate {
        guard let first = try PEMDocument.parseMultiple(pemString: pem).first else { throw CancellationError() }
        return try Certificate(pemDocument: first)
    }
}

/// Finds an executable on PATH (or the usual places).
func findExecutable(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let directories = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/bin"]
    for directory in directories {
        let candidate = (directory as NSString).appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// Runs a program, returning its exit status and standard output.
func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A company PKI as an operator would bring it: an offline root and an intermediate for the mesh.
struct OperatorPKI {
    let rootPEM: String
    let rootKeyPEM: String
    let intermediatePEM: String
    let intermediateKeyPEM: String

    init(now: Date = Date()) throws {
        let rootKey = P256.Signing.PrivateKey()
        let rootName = try DistinguishedName {
            OrganizationName("Example Corp")
            CommonName("Example Corp Root CA")
        }
        let root = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(rootKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(20 * 365 * 86400),
            issuer: rootName, subject: rootName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(rootKey.publicKey))
            },
            issuerPrivateKey: Certificate.PrivateKey(rootKey))
        let intermediateKey = P256.Signing.PrivateKey()
        let intermediateName = try DistinguishedName {
            OrganizationName("Example Corp")
            CommonName("Example Corp Meridian Intermediate")
        }
        let intermediate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(intermediateKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(5 * 365 * 86400),
            issuer: rootName, subject: intermediateName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(intermediateKey.publicKey))
                AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: Certificate.PublicKey(rootKey.publicKey)).keyIdentifier)
            },
            issuerPrivateKey: Certificate.PrivateKey(rootKey))
        rootPEM = try root.serializeAsPEM().pemString + "\n"
        rootKeyPEM = rootKey.pemRepresentation
        intermediatePEM = try intermediate.serializeAsPEM().pemString + "\n"
        intermediateKeyPEM = intermediateKey.pemRepresentation
    }
}
