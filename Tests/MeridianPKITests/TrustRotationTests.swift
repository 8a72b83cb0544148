import Foundation
import MeridianPKI
import Testing
import X509

@Suite("Trust-bundle rotation")
struct TrustRotationTests {
    @Test("TrustBundle: add beside, retire, PEM round trip, fingerprints")
    func bundleOperations() throws {
        let old = try MeshCA.create(trustDomain: Fixture.trustDomain)
        let new = try MeshCA.create(trustDomain: Fixture.trustDomain)
        var bundle = old.trustBundle
        bundle.add(new.certificate)
        bundle.add(new.certificate)
        #expect(bundle.roots == [old.certificate, new.certificate])
        #expect(try TrustBundle(pem: bundle.pem) == bundle)
        #expect(bundle.fingerprints.count == 2 && bundle.fingerprints.allSatisfy { $0.count == 64 })
        let removed = bundle.retire(fingerprint: bundle.fingerprints[0].uppercased())
        #expect(removed)
        #expect(bundle.roots == [new.certificate])
        #expect { try TrustBundle(pem: "") } throws: { ($0 as? MeshPKIError)?.code == .emptyTrustBundle }
        let (leafPEM, _) = try old.issueServerCertificate(dnsNames: ["x"])
        #expect { try TrustBundle(pem: leafPEM) } throws: { ($0 as? MeshPKIError)?.code == .notACertificateAuthority }
    }

    @Test("over sockets: old+new bundle accepts leaves of both roots; after retiring the old root its leaves are refused")
    func rotationOverTLS() async throws {
        let old = try MeshCA.create(trustDomain: Fixture.trustDomain)
        let new = try MeshCA.create(trustDomain: Fixture.trustDomain)
        let both = old.trustBundle.adding(new.certificate)

        let serverVerifier = PeerIdentityVerifier(trustBundle: both, trustDomain: Fixture.trustDomain)
        let clientVerifier = PeerIdentityVerifier(trustBundle: both, trustDomain: Fixture.trustDomain)
        // The server already renewed under the new root; clients still hold old and new leaves.
        let server = try await TunnelServer.start(credentials: try Fixture.gateway("eu-west", ca: new), verifier: serverVerifier)

        let oldLeaf = try Fixture.gateway("us-east", ca: old)
        let newLeaf = try Fixture.gateway("ap-south", ca: new)
        let viaOld = try await connect(to: server, with: oldLeaf, verifier: clientVerifier, expectedCluster: "eu-west")
        #expect(viaOld.succeeded)
        #expect(viaOld.server?.identity.cluster == "us-east")
        let viaNew = try await connect(to: server, with: newLeaf, verifier: clientVerifier, expectedCluster: "eu-west")
        #expect(viaNew.succeeded)
        #expect(viaNew.server?.identity.cluster == "ap-south")

        // The next table push retires the old root; the running listener picks it up on the next handshake.
        serverVerifier.update(trustBundle: both.retiring(old.certificate))
        let refused = try await connect(to: server, with: oldLeaf, verifier: clientVerifier, expectedCluster: "eu-west")
        #expect(refused.server == nil)
        #expect(refused.serverRefusal?.reason == .untrustedIssuer)
        let stillFine = try await connect(to: server, with: newLeaf, verifier: clientVerifier, expectedCluster: "eu-west")
        #expect(stillFine.succeeded)
        await server.stop()
    }

    @Test("on disk: stage, promote, retire; a restart loads the same bundle")
    func rotationOnDisk() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let original = try MeshCA.loadOrCreate(directory: directory.path, trustDomain: Fixture.trustDomain)
        let oldLeaf = try Fixture.gateway("us-east", ca: original)

        // 1. Stage: both roots trusted, still signing with the old one.
        let staged = try original.stageRotation(directory: directory.path)
        #expect(staged.trustBundle.roots.count == 2)
        #expect(staged.certificate == original.certificate)
        #expect(fileMode(directory.file(MeshCA.stagedPrivateKeyFileName)) == 0o600)
        let reloaded = try MeshCA.loadOrCreate(directory: directory.path, trustDomain: Fixture.trustDomain)
        #expect(reloaded.trustBundle == staged.trustBundle)
        #expect(try original.stageRotation(directory: directory.path).trustBundle == staged.trustBundle)  // idempotent

        // 2. Promote: the new root signs; the old one is still trusted.
        let promoted = try staged.promoteStagedRoot(directory: directory.path)
        #expect(promoted.certificate != original.certificate)
        #expect(promoted.trustBundle == staged.trustBundle)
        #expect(!FileManager.default.fileExists(atPath: directory.file(MeshCA.stagedPrivateKeyFileName)))
        let afterRestart = try MeshCA.loadOrCreate(directory: directory.path, trustDomain: Fixture.trustDomain)
        #expect(afterRestart.certificate == promoted.certificate)
        #expect(afterRestart.trustBundle == promoted.trustBundle)
        let newLeaf = try Fixture.gateway("ap-south", ca: afterRestart)

        let verifier = try PeerIdentityVerifier(trustBundlePEM: afterRestart.trustBundlePEM, trustDomain: Fixture.trustDomain)
        #expect(try await verifier.verify(chainPEM: oldLeaf.chainPEM, as: .client).get().cluster == "us-east")
        #expect(try await verifier.verify(chainPEM: newLeaf.chainPEM, as: .client).get().cluster == "ap-south")

        // The signing root cannot be retired.
        #expect { try afterRestart.retireRoot(fingerprint: afterRestart.trustBundle.fingerprints[1], directory: directory.path) } throws: {
            ($0 as? MeshPKIError)?.code == .emptyTrustBundle
        }

        // 3. Retire the old root.
        let retired = try afterRestart.retireRoot(fingerprint: afterRestart.trustBundle.fingerprints[0], directory: directory.path)
        #expect(retired.trustBundle.roots == [retired.certificate])
        #expect(try MeshCA.loadOrCreate(directory: directory.path, trustDomain: Fixture.trustDomain).trustBundle == retired.trustBundle)
        verifier.update(trustBundle: retired.trustBundle)
        guard case .failure(let failure) = await verifier.verify(chainPEM: oldLeaf.chainPEM, as: .client) else {
            Issue.record("a leaf of the retired root was accepted")
            return
        }
        #expect(failure.reason == .untrustedIssuer)
        #expect(try await verifier.verify(chainPEM: newLeaf.chainPEM, as: .client).get().cluster == "ap-south")
    }
}
