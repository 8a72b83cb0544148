import Foundation
import MeridianModel
import MeridianPKI
import Testing
import X509

@Suite("Sealed CA: the CA key in the database under the operator's key")
struct SealedMeshCATests {
    @Test("seal and unseal give back a CA that signs under the same root; the sealed form holds no plaintext key")
    func roundTrip() throws {
        let key = try CAEncryptionKey(base64: CAEncryptionKey.generate())
        let ca = try MeshCA.create(trustDomain: Fixture.trustDomain)
        let sealed = try ca.sealed(with: key)
        #expect(sealed.keyID == key.id && key.id.count == 16)
        #expect(!String(decoding: sealed.sealedKey, as: UTF8.self).contains("PRIVATE KEY"))
        let opened = try MeshCA(unsealing: sealed, with: key, trustDomain: Fixture.trustDomain)
        #expect(opened.certificate == ca.certificate)
        #expect(opened.trustBundlePEM == ca.trustBundlePEM)
        let leaf = try Fixture.firstCertificate(try Fixture.gateway("eu-west", ca: opened).chainPEM)
        #expect(ca.certificate.publicKey.isValidSignature(leaf.signature, for: leaf))
    }

    @Test("an operator intermediate keeps its chain through sealing")
    func intermediateChain() throws {
        let pki = try OperatorPKI()
        let ca = try MeshCA(certificatePEM: pki.intermediatePEM, privateKeyPEM: pki.intermediateKeyPEM, chainPEM: pki.rootPEM,
                            trustDomain: Fixture.trustDomain)
        let key = try CAEncryptionKey(base64: CAEncryptionKey.generate())
        let opened = try MeshCA(unsealing: try ca.sealed(with: key), with: key, trustDomain: Fixture.trustDomain)
        #expect(opened.issuingChain == ca.issuingChain)
        #expect(opened.trustBundle.roots == ca.trustBundle.roots)
    }

    @Test("the wrong key, an altered box, another certificate or another trust domain is refused, saying which")
    func refusals() throws {
        let key = try CAEncryptionKey(base64: CAEncryptionKey.generate())
        let other = try CAEncryptionKey(base64: CAEncryptionKey.generate())
        let sealed = try MeshCA.create(trustDomain: Fixture.trustDomain).sealed(with: key)

        let wrongKey = #expect(throws: MeshPKIError.self) { try MeshCA(unsealing: sealed, with: other, trustDomain: Fixture.trustDomain) }
        #expect(wrongKey?.code == .invalidKey)
        #expect(wrongKey?.message.contains(key.id) == true && wrongKey?.message.contains(other.id) == true)

        var altered = sealed
        altered.sealedKey[altered.sealedKey.count / 2] ^= 0x01
        #expect(throws: MeshPKIError.self) { try MeshCA(unsealing: altered, with: key, trustDomain: Fixture.trustDomain) }

        // The key sealed for one certificate does not open beside another (the certificate is the associated data).
        var swapped = sealed
        swapped.certificatePEM = try MeshCA.create(trustDomain: Fixture.trustDomain).certificatePEM
        let mismatch = #expect(throws: MeshPKIError.self) { try MeshCA(unsealing: swapped, with: key, trustDomain: Fixture.trustDomain) }
        #expect(mismatch?.code == .invalidKey)

        let domain = #expect(throws: MeshPKIError.self) { try MeshCA(unsealing: sealed, with: key, trustDomain: "other.test") }
        #expect(domain?.code == .trustDomainMismatch)
    }

    @Test("a key that is not 32 bytes of base64 is refused with how to make one")
    func malformedKey() {
        for text in ["", "not base64!", Data(repeating: 7, count: 16).base64EncodedString()] {
            let error = #expect(throws: MeshPKIError.self) { try CAEncryptionKey(base64: text) }
            #expect(error?.code == .invalidKey)
            #expect(error?.message.contains("openssl rand -base64 32") == true)
        }
        #expect((try? CAEncryptionKey(base64: " " + CAEncryptionKey.generate() + "\n")) != nil)
    }
}
