import Crypto
import Foundation
import MeridianPKI
import SwiftASN1
import Testing
import X509

@Suite("MeshCA: create, load, operator CA")
struct MeshCATests {
    @Test("first start creates ca.pem and ca-key.pem (0600); the next start loads the same CA")
    func createThenLoad() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let caDirectory = directory.file("ca")

        let created = try MeshCA.loadOrCreate(directory: caDirectory, trustDomain: Fixture.trustDomain)
        #expect(fileMode(directory.file("ca/ca-key.pem")) == 0o600)
        #expect(fileMode(directory.file("ca/ca.pem")) == 0o644)
        #expect(fileMode(caDirectory) == 0o700)

        let keyPEM = try String(contentsOfFile: directory.file("ca/ca-key.pem"), encoding: .utf8)
        #expect(keyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))

        let loaded = try MeshCA.loadOrCreate(directory: caDirectory, trustDomain: Fixture.trustDomain)
        #expect(loaded.certificate == created.certificate)
        #expect(loaded.trustBundlePEM == created.trustBundlePEM)
        #expect(loaded.trustBundle.roots == [created.certificate])

        // The loaded CA signs with the same key: its leaves verify under the created root.
        let leaf = try Fixture.firstCertificate(try Fixture.gateway("eu-west", ca: loaded).chainPEM)
        #expect(created.certificate.publicKey.isValidSignature(leaf.signature, for: leaf))
    }

    @Test("the root is an ECDSA P-256 CA for 10 years with keyCertSign and cRLSign")
    func rootProfile() throws {
        let now = Date()
        let ca = try MeshCA.create(trustDomain: Fixture.trustDomain, now: now)
        let root = ca.certificate
        #expect(root.subject.description == "CN=Meridian mesh CA mesh.test")
        #expect(root.issuer == root.subject)
        #expect(root.signatureAlgorithm == .ecdsaWithSHA256)
        #expect(P256.Signing.PublicKey(root.publicKey) != nil)
        let years = root.notValidAfter.timeIntervalSince(now) / (365.25 * 86400)
        #expect(years > 9.99 && years < 10.01)
        guard case .isCertificateAuthority = try root.extensions.basicConstraints else {
            Issue.record("root is not a CA")
            return
        }
        let usage = try #require(try root.extensions.keyUsage)
        #expect(usage.keyCertSign && usage.cRLSign)
        #expect(try root.extensions.subjectKeyIdentifier != nil)
        #expect(root.extensions.first { $0.oid == .X509ExtensionID.basicConstraints }?.critical == true)
    }

    @Test("loading a CA created for another trust domain is refused")
    func trustDomainMismatch() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        _ = try MeshCA.loadOrCreate(directory: directory.path, trustDomain: "one.test")
        #expect { try MeshCA.loadOrCreate(directory: directory.path, trustDomain: "two.test") } throws: { error in
            (error as? MeshPKIError)?.code == .trustDomainMismatch
        }
    }

    @Test("a certificate without its key is refused, not silently replaced")
    func incompleteCA() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        _ = try MeshCA.loadOrCreate(directory: directory.path, trustDomain: Fixture.trustDomain)
        try FileManager.default.removeItem(atPath: directory.file(MeshCA.privateKeyFileName))
        #expect { try MeshCA.loadOrCreate(directory: directory.path, trustDomain: Fixture.trustDomain) } throws: { error in
            (error as? MeshPKIError)?.code == .incompleteCA
        }
    }

    @Test("an invalid trust domain is refused", arguments: ["", "Mesh.Test", "mesh/test", "mesh test"])
    func invalidTrustDomain(_ trustDomain: String) {
        #expect { try MeshCA.create(trustDomain: trustDomain) } throws: { error in
            (error as? MeshPKIError)?.code == .invalidName
        }
    }

    @Test("an operator-provided intermediate issues chains that include it, trusted through the operator's root")
    func operatorIntermediate() async throws {
        let company = try OperatorPKI()
        let ca = try MeshCA(
            certificatePEM: company.intermediatePEM, privateKeyPEM: company.intermediateKeyPEM,
            trustBundlePEM: company.rootPEM, trustDomain: Fixture.trustDomain)
        #expect(ca.trustBundle.roots.count == 1)
        #expect(ca.issuingChain.count == 1)

        let credentials = try Fixture.gateway("eu-west", ca: ca)
        let chain = try PEMDocument.parseMultiple(pemString: credentials.chainPEM).map { try Certificate(pemDocument: $0) }
        #expect(chain.count == 2)
        #expect(chain[1] == ca.certificate)

        let verifier = PeerIdentityVerifier(trustBundle: ca.trustBundle, trustDomain: Fixture.trustDomain)
        let result = await verifier.verify(chainPEM: credentials.chainPEM, as: .client)
        #expect(try result.get().cluster == "eu-west")

        // Without the intermediate the leaf does not reach the root.
        let leafOnly = try Fixture.firstCertificate(credentials.chainPEM)
        guard case .failure(let failure) = await verifier.verify(chain: [leafOnly], as: .client) else {
            Issue.record("a leaf without its intermediate was accepted")
            return
        }
        #expect(failure.reason == .untrustedIssuer)
    }

    @Test("an operator CA whose key does not match is refused")
    func operatorKeyMismatch() throws {
        let company = try OperatorPKI()
        #expect {
            try MeshCA(certificatePEM: company.intermediatePEM, privateKeyPEM: company.rootKeyPEM,
                       trustBundlePEM: company.rootPEM, trustDomain: Fixture.trustDomain)
        } throws: { error in
            (error as? MeshPKIError)?.code == .keyMismatch
        }
    }
}
