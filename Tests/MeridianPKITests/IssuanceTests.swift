import Crypto
import Foundation
import MeridianModel
import MeridianPKI
import SwiftASN1
import Testing
import X509

@Suite("Issuing gateway and server certificates")
struct IssuanceTests {
    let ca: MeshCA

    init() throws {
        ca = try MeshCA.create(trustDomain: Fixture.trustDomain)
    }

    @Test("a gateway certificate carries the SPIFFE URI SAN, both EKUs, a random serial, AKI/SKI and the asked lifetime")
    func gatewayProfile() throws {
        let now = Date()
        let (keyPEM, csrPEM) = try GatewayKeyPair.generate(cluster: "eu-west")
        #expect(keyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(csrPEM.hasPrefix("-----BEGIN CERTIFICATE REQUEST-----"))

        let issued = try ca.issueGatewayCertificate(csrPEM: csrPEM, cluster: "eu-west", lifetime: 24 * 3600, now: now)
        #expect(issued.spiffeID == "spiffe://mesh.test/cluster/eu-west/gateway")
        #expect(issued.chainPEM == issued.certificatePEM)
        #expect(issued.trustBundlePEM == ca.trustBundlePEM)

        let leaf = try Certificate(pemEncoded: issued.certificatePEM)
        let sans = try #require(try leaf.extensions.subjectAlternativeNames)
        #expect(Array(sans) == [.uniformResourceIdentifier("spiffe://mesh.test/cluster/eu-west/gateway")])
        let usages = try #require(try leaf.extensions.extendedKeyUsage)
        #expect(usages.contains(.serverAuth) && usages.contains(.clientAuth))
        #expect(try leaf.extensions.basicConstraints == .notCertificateAuthority)
        #expect(try leaf.extensions.keyUsage?.digitalSignature == true)
        #expect(try leaf.extensions.authorityKeyIdentifier?.keyIdentifier == ca.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
        #expect(try leaf.extensions.subjectKeyIdentifier != nil)
        #expect(leaf.issuer == ca.certificate.subject)
        #expect(abs(leaf.notValidBefore.timeIntervalSince(now.addingTimeInterval(-300))) < 1.5)
        #expect(abs(leaf.notValidAfter.timeIntervalSince(now.addingTimeInterval(24 * 3600))) < 1.5)
        #expect(abs(issued.notAfter.timeIntervalSince(leaf.notValidAfter)) < 0.001)
        #expect(issued.serial == leaf.serialNumber.bytes.map { String(format: "%02x", $0) }.joined())
        #expect(issued.serial.count >= 32)
        #expect(ca.certificate.publicKey.isValidSignature(leaf.signature, for: leaf))

        // The key the gateway holds is the key in the certificate.
        let key = try Certificate.PrivateKey(pemEncoded: keyPEM)
        #expect(key.publicKey == leaf.publicKey)

        // Two issues never share a serial.
        let again = try ca.issueGatewayCertificate(csrPEM: csrPEM, cluster: "eu-west", now: now)
        #expect(again.serial != issued.serial)
    }

    @Test("openssl x509 -text shows the SPIFFE URI SAN", .enabled(if: findExecutable("openssl") != nil))
    func opensslShowsSPIFFEID() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let credentials = try Fixture.gateway("eu-west", ca: ca)
        let path = directory.file("gateway.pem")
        try credentials.chainPEM.write(toFile: path, atomically: true, encoding: .utf8)

        let openssl = try #require(findExecutable("openssl"))
        let (status, text) = try run(openssl, ["x509", "-in", path, "-noout", "-text"])
        #expect(status == 0)
        #expect(text.contains("X509v3 Subject Alternative Name"))
        #expect(text.contains("URI:spiffe://mesh.test/cluster/eu-west/gateway"))
        #expect(text.contains("TLS Web Server Authentication, TLS Web Client Authentication"))
        #expect(text.contains("CA:FALSE"))

        // openssl also accepts the chain under the CA.
        let caPath = directory.file("ca.pem")
        try ca.trustBundlePEM.write(toFile: caPath, atomically: true, encoding: .utf8)
        let verify = try run(openssl, ["verify", "-CAfile", caPath, "-purpose", "sslclient", path])
        #expect(verify.status == 0, "\(verify.output)")
    }

    @Test("a CSR whose signature does not verify is refused")
    func csrBadSignature() throws {
        let (_, csrPEM) = try GatewayKeyPair.generate(cluster: "eu-west")
        let genuine = try CertificateSigningRequest(pemEncoded: csrPEM)
        // The signature of one key, presented with another key: no proof of possession.
        let otherKey = P256.Signing.PrivateKey()
        let forged = try CertificateSigningRequest(
            version: genuine.version, subject: genuine.subject,
            publicKey: Certificate.PublicKey(otherKey.publicKey), attributes: genuine.attributes,
            signatureAlgorithm: genuine.signatureAlgorithm, signature: genuine.signature)
        let forgedPEM = try forged.serializeAsPEM().pemString

        #expect { try ca.issueGatewayCertificate(csrPEM: forgedPEM, cluster: "eu-west") } throws: { error in
            let error = error as? MeshPKIError
            return error?.code == .invalidCSR && error?.message.contains("signature") == true
        }
        #expect { try ca.issueGatewayCertificate(csrPEM: "not a csr", cluster: "eu-west") } throws: { error in
            (error as? MeshPKIError)?.code == .invalidCSR
        }
    }

    @Test("what the CSR asks for is ignored: the name comes from the cluster the hub vouches for")
    func csrRequestsAreIgnored() throws {
        let key = P256.Signing.PrivateKey()
        let wanted = try Certificate.Extensions {
            SubjectAlternativeNames([.uniformResourceIdentifier("spiffe://mesh.test/cluster/admin/gateway"), .dnsName("hub.mesh.test")])
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
        }
        let csr = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName("admin") },
            privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes([try .init(ExtensionRequest(extensions: wanted))]))
        let issued = try ca.issueGatewayCertificate(csrPEM: try csr.serializeAsPEM().pemString, cluster: "eu-west")
        let leaf = try Certificate(pemEncoded: issued.certificatePEM)
        #expect(leaf.uriSpiffeIDs == ["spiffe://mesh.test/cluster/eu-west/gateway"])
        #expect(try leaf.extensions.basicConstraints == .notCertificateAuthority)
        #expect(!leaf.subject.description.contains("admin"))
    }

    @Test("cluster names that are not DNS labels are refused", arguments: ["", "EU", "eu/west", "a..b", "-eu"])
    func badClusterName(_ cluster: String) throws {
        let (_, csr) = try GatewayKeyPair.generate(cluster: "x")
        #expect { try ca.issueGatewayCertificate(csrPEM: csr, cluster: cluster) } throws: { error in
            (error as? MeshPKIError)?.code == .invalidName
        }
    }

    @Test("a server certificate has serverAuth only and the asked DNS and IP SANs")
    func serverProfile() throws {
        let (certificatePEM, keyPEM) = try ca.issueServerCertificate(dnsNames: ["hub.mesh.test", "localhost"], ipAddresses: ["127.0.0.1", "::1"])
        let leaf = try Certificate(pemEncoded: certificatePEM)
        let usages = try #require(try leaf.extensions.extendedKeyUsage)
        #expect(Array(usages) == [.serverAuth])
        let sans = try #require(try leaf.extensions.subjectAlternativeNames)
        #expect(sans.contains(.dnsName("hub.mesh.test")))
        #expect(sans.contains(.dnsName("localhost")))
        #expect(sans.contains(.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))))
        #expect(sans.contains(.ipAddress(ASN1OctetString(contentBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]))))
        #expect(try Certificate.PrivateKey(pemEncoded: keyPEM).publicKey == leaf.publicKey)
        #expect { try ca.issueServerCertificate(dnsNames: [], ipAddresses: ["not-an-ip"]) } throws: { error in
            (error as? MeshPKIError)?.code == .invalidName
        }
    }

    @Test("a leaf never outlives its CA")
    func lifetimeClampedToCA() throws {
        let (_, csr) = try GatewayKeyPair.generate(cluster: "eu-west")
        let issued = try ca.issueGatewayCertificate(csrPEM: csr, cluster: "eu-west", lifetime: 30 * 365 * 86400)
        #expect(issued.notAfter == ca.certificate.notValidAfter)
    }
}

extension Certificate {
    var uriSpiffeIDs: [String] {
        ((try? extensions.subjectAlternativeNames).map { Array($0) } ?? []).compactMap {
            if case .uniformResourceIdentifier(let uri) = $0 { return uri }
            return nil
        }
    }
}
