import Foundation
import MeridianPKI
import Testing
import X509

@Suite("PeerIdentityVerifier: accepts mesh gateways, refuses everything else with a reason")
struct PeerIdentityVerifierTests {
    let ca: MeshCA
    let verifier: PeerIdentityVerifier

    init() throws {
        ca = try MeshCA.create(trustDomain: Fixture.trustDomain)
        verifier = PeerIdentityVerifier(trustBundle: ca.trustBundle, trustDomain: Fixture.trustDomain)
    }

    func refusal(_ chainPEM: String, as role: PeerRole = .client, expectedCluster: String? = nil, now: Date = Date(), verifier: PeerIdentityVerifier? = nil) async throws -> PeerVerificationFailure {
        let result = await (verifier ?? self.verifier).verify(chainPEM: chainPEM, as: role, expectedCluster: expectedCluster, now: now)
        switch result {
        case .success(let identity):
            Issue.record("accepted \(identity) but a refusal was expected")
            throw CancellationError()
        case .failure(let failure):
            return failure
        }
    }

    @Test("a gateway certificate of the mesh is accepted in both roles, with its identity")
    func accepts() async throws {
        let credentials = try Fixture.gateway("eu-west", ca: ca)
        for role in PeerRole.allCases {
            let identity = try await verifier.verify(chainPEM: credentials.chainPEM, as: role, expectedCluster: "eu-west").get()
            #expect(identity.cluster == "eu-west")
            #expect(identity.spiffeID == "spiffe://mesh.test/cluster/eu-west/gateway")
            #expect(identity.serial == credentials.serial)
        }
    }

    @Test("wrong CA: another root, even with the same name, is untrusted")
    func wrongCA() async throws {
        let impostor = try MeshCA.create(trustDomain: Fixture.trustDomain)
        #expect(impostor.certificate.subject == ca.certificate.subject)
        let failure = try await refusal(try Fixture.gateway("eu-west", ca: impostor).chainPEM)
        #expect(failure.reason == .untrustedIssuer)
        #expect(failure.message.contains("does not chain to a trusted mesh root"))
        #expect(failure.spiffeID == "spiffe://mesh.test/cluster/eu-west/gateway")
    }

    @Test("expired")
    func expired() async throws {
        let issuedAt = Date().addingTimeInterval(-2 * 86400)
        let credentials = try Fixture.gateway("eu-west", ca: ca, lifetime: 3600, now: issuedAt)
        let failure = try await refusal(credentials.chainPEM)
        #expect(failure.reason == .expired)
        #expect(failure.message.contains("expired at"))
    }

    @Test("not yet valid")
    func notYetValid() async throws {
        let credentials = try Fixture.gateway("eu-west", ca: ca, lifetime: 3600, now: Date().addingTimeInterval(86400))
        let failure = try await refusal(credentials.chainPEM)
        #expect(failure.reason == .notYetValid)
        #expect(failure.message.contains("is not valid before"))
    }

    @Test("wrong trust domain, from a root the bundle trusts")
    func wrongTrustDomain() async throws {
        let foreign = try MeshCA.create(trustDomain: "other.test")
        let verifier = PeerIdentityVerifier(trustBundle: ca.trustBundle.adding(foreign.certificate), trustDomain: Fixture.trustDomain)
        let failure = try await refusal(try Fixture.gateway("eu-west", ca: foreign).chainPEM, verifier: verifier)
        #expect(failure.reason == .wrongTrustDomain)
        #expect(failure.message.hasPrefix("wrong trust domain 'other.test', expected 'mesh.test'"))
    }

    @Test("wrong cluster")
    func wrongCluster() async throws {
        let failure = try await refusal(try Fixture.gateway("us-east", ca: ca).chainPEM, as: .server, expectedCluster: "eu-west")
        #expect(failure.reason == .wrongCluster)
        #expect(failure.message.hasPrefix("wrong cluster 'us-east', expected 'eu-west'"))
    }

    @Test("revoked, in any spelling of the serial; and accepted again once the list drops it")
    func revoked() async throws {
        let credentials = try Fixture.gateway("eu-west", ca: ca)
        let spelled = stride(from: 0, to: credentials.serial.count, by: 2).map { offset -> String in
            let start = credentials.serial.index(credentials.serial.startIndex, offsetBy: offset)
            return String(credentials.serial[start..<credentials.serial.index(start, offsetBy: 2)])
        }.joined(separator: ":").uppercased()
        verifier.update(revokedSerials: ["00ff", spelled])
        let failure = try await refusal(credentials.chainPEM)
        #expect(failure.reason == .revoked)
        #expect(failure.message == "serial \(credentials.serial) of spiffe://mesh.test/cluster/eu-west/gateway is revoked")

        verifier.update(revokedSerials: [])
        #expect(try await verifier.verify(chainPEM: credentials.chainPEM, as: .client).get().cluster == "eu-west")
    }

    @Test("a serverAuth-only certificate is refused as a client, accepted as a server")
    func serverCertificateAsClient() async throws {
        let credentials = try Fixture.serverOnly("eu-west", ca: ca)
        let failure = try await refusal(credentials.chainPEM, as: .client)
        #expect(failure.reason == .wrongKeyUsage)
        #expect(failure.message.contains("lacks clientAuth"))
        #expect(try await verifier.verify(chainPEM: credentials.chainPEM, as: .server).get().cluster == "eu-west")
    }

    @Test("a certificate without a gateway SPIFFE ID is refused")
    func notAGateway() async throws {
        let (hubCertificate, _) = try ca.issueServerCertificate(dnsNames: ["hub.mesh.test"])
        #expect(try await refusal(hubCertificate, as: .server).reason == .notAGatewayIdentity)
        let (workload, _) = try ca.issueServerCertificate(dnsNames: ["x"], uris: ["spiffe://mesh.test/ns/default/sa/x"])
        #expect(try await refusal(workload, as: .server).reason == .notAGatewayIdentity)
    }

    @Test("an empty or unparseable chain is refused")
    func noCertificate() async throws {
        #expect(try await refusal("").reason == .noCertificate)
        #expect(try await refusal("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").reason == .malformedCertificate)
    }
}
