import Foundation
import MeridianPKI
import NIOCore
import NIOSSL
import Testing

/// Real TLS over loopback sockets, certificates made at test time.
@Suite("Mesh mTLS over loopback sockets")
struct MeshTLSTests {
    let ca: MeshCA
    let serverCredentials: GatewayCredentials

    init() throws {
        ca = try MeshCA.create(trustDomain: Fixture.trustDomain)
        serverCredentials = try Fixture.gateway("eu-west", ca: ca)
    }

    @Test("a gateway with a good certificate completes TLS 1.3 with ALPN h2; each side sees the other's SPIFFE ID")
    func goodHandshake() async throws {
        let serverVerifier = PeerIdentityVerifier(trustBundle: ca.trustBundle, trustDomain: Fixture.trustDomain)
        let server = try await TunnelServer.start(credentials: serverCredentials, verifier: serverVerifier)
        let clientVerifier = PeerIdentityVerifier(trustBundle: ca.trustBundle, trustDomain: Fixture.trustDomain)
        let outcome = try await connect(
            to: server, with: try Fixture.gateway("us-east", ca: ca), verifier: clientVerifier, expectedCluster: "eu-west")
        await server.stop()

        #expect(outcome.succeeded, "client error: \(outcome.clientError ?? "none"), server refusal: \(outcome.serverRefusal?.message ?? "none")")
        let serverView = try #require(outcome.server)
        #expect(serverView.identity.spiffeID == "spiffe://mesh.test/cluster/us-east/gateway")
        #expect(serverView.identity.cluster == "us-east")
        #expect(serverView.negotiatedProtocol == "h2")
        #expect(serverView.tlsVersion == .tlsv13)
        #expect(serverView.validatedChainLength == 2)  // leaf and root
        let clientView = try #require(outcome.client)
        #expect(clientView.identity.spiffeID == "spiffe://mesh.test/cluster/eu-west/gateway")
        #expect(clientView.negotiatedProtocol == "h2")
        #expect(clientView.tlsVersion == .tlsv13)
        #expect(outcome.serverRefusal == nil && outcome.clientRefusal == nil)
    }

    /// A client certificate the tunnel listener must refuse.
    enum BadClient: String, CaseIterable, Sendable {
        case wrongCA, expired, notYetValid, wrongTrustDomain, revoked, serverCertificateAsClient

        var expectedReason: PeerVerificationFailure.Reason {
            switch self {
            case .wrongCA: .untrustedIssuer
            case .expired: .expired
            case .notYetValid: .notYetValid
            case .wrongTrustDomain: .wrongTrustDomain
            case .revoked: .revoked
            case .serverCertificateAsClient: .wrongKeyUsage
            }
        }
    }

    @Test("a bad client certificate fails the handshake, and the server reports why", arguments: BadClient.allCases)
    func badClient(_ bad: BadClient) async throws {
        let foreign = try MeshCA.create(trustDomain: "other.test")
        // The server trusts the foreign root too, so the wrong trust domain is what refuses that case.
        let serverVerifier = PeerIdentityVerifier(trustBundle: ca.trustBundle.adding(foreign.certificate), trustDomain: Fixture.trustDomain)
        let client: GatewayCredentials
        switch bad {
        case .wrongCA:
            client = try Fixture.gateway("us-east", ca: try MeshCA.create(trustDomain: Fixture.trustDomain))
        case .expired:
            client = try Fixture.gateway("us-east", ca: ca, lifetime: 3600, now: Date().addingTimeInterval(-2 * 86400))
        case .notYetValid:
            client = try Fixture.gateway("us-east", ca: ca, lifetime: 3600, now: Date().addingTimeInterval(86400))
        case .wrongTrustDomain:
            client = try Fixture.gateway("us-east", ca: foreign)
        case .revoked:
            client = try Fixture.gateway("us-east", ca: ca)
            serverVerifier.update(revokedSerials: [client.serial])
        case .serverCertificateAsClient:
            client = try Fixture.serverOnly("us-east", ca: ca)
        }
        let server = try await TunnelServer.start(credentials: serverCredentials, verifier: serverVerifier)
        let clientVerifier = PeerIdentityVerifier(trustBundle: ca.trustBundle, trustDomain: Fixture.trustDomain)
        let outcome = try await connect(to: server, with: client, verifier: clientVerifier, expectedCluster: "eu-west")
        await server.stop()

        #expect(outcome.server == nil)
        let refusal = try #require(outcome.serverRefusal)
        #expect(refusal.reason == bad.expectedReason, "\(refusal.message)")
        #expect(!refusal.message.isEmpty)
        #expect(outcome.clientError != nil, "the client's connection stayed open")
    }

    @Test("the client refuses a server that is not the cluster it dialled")
    func wrongClusterServer() async throws {
        let serverVerifier = PeerIdentityVerifier(trustBundle: ca.trustBundle, trustDomain: Fixture.trustDomain)
        let server = try await TunnelServer.start(credentials: serverCredentials, verifier: serverVerifier)
        let clientVerifier = PeerIdentityVerifier(trustBundle: ca.trustBundle, trustDomain: Fixture.trustDomain)
        let outcome = try await connect(
            to: server, with: try Fixture.gateway("us-east", ca: ca), verifier: clientVerifier, expectedCluster: "ap-south")
        await server.stop()

        #expect(outcome.client == nil)
        #expect(outcome.server == nil)
        let refusal = try #require(outcome.clientRefusal)
        #expect(refusal.reason == .wrongCluster)
        #expect(refusal.message.hasPrefix("wrong cluster 'eu-west', expected 'ap-south'"))
        #expect(outcome.clientError != nil)
    }

    @Test("a client without a certificate, or limited to TLS 1.2, does not get in")
    func noClientCertificateOrOldTLS() async throws {
        let serverVerifier = PeerIdentityVerifier(trustBundle: ca.trustBundle, trustDomain: Fixture.trustDomain)
        let server = try await TunnelServer.start(credentials: serverCredentials, verifier: serverVerifier)
        let clientVerifier = PeerIdentityVerifier(trustBundle: ca.trustBundle, trustDomain: Fixture.trustDomain)
        let good = try Fixture.gateway("us-east", ca: ca)

        let anonymous = try await connect(to: server, with: good, verifier: clientVerifier, expectedCluster: "eu-west") {
            $0.certificateChain = []
            $0.privateKey = nil
        }
        #expect(anonymous.server == nil)
        #expect(anonymous.clientError != nil)

        let old = try await connect(to: server, with: good, verifier: clientVerifier, expectedCluster: "eu-west") {
            $0.minimumTLSVersion = .tlsv12
            $0.maximumTLSVersion = .tlsv12
        }
        #expect(old.server == nil && old.client == nil)
        #expect(old.clientError != nil)
        await server.stop()
    }
}
