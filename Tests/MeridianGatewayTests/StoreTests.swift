import Foundation
import MeridianGateway
import MeridianModel
import MeridianPKI
import Testing

@Suite("Identity and table on disk")
struct StoreTests {
    @Test("the identity is checked, written with the key at 0600, and read back")
    func identityRoundTrip() async throws {
        let pki = try TestPKI()
        defer { pki.cleanup() }
        let (chain, key) = try pki.issue("east")
        let identity = try await GatewayIdentity(chainPEM: chain, privateKeyPEM: key, trustBundlePEM: pki.ca.trustBundlePEM,
                                                 cluster: "east", trustDomain: TestPKI.trustDomain)
        #expect(identity.spiffeID == "spiffe://mesh.test/cluster/east/gateway")
        #expect(identity.renewalDate > identity.notBefore && identity.renewalDate < identity.notAfter)
        let directory = pki.path("data")
        try identity.write(to: directory)
        #expect(GatewayIdentity.exists(in: directory))
        let mode = try FileManager.default.attributesOfItem(atPath: directory + "/gateway-key.pem")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let loaded = try await GatewayIdentity.load(directory: directory, cluster: "east", trustDomain: TestPKI.trustDomain)
        #expect(loaded.chainPEM == identity.chainPEM && loaded.privateKeyPEM == identity.privateKeyPEM)
        #expect(loaded.serial == identity.serial && loaded.trustBundlePEM == identity.trustBundlePEM)
        // Loaded from disk, the certificate counts as obtained when its file was written.
        #expect(abs(loaded.obtainedAt.timeIntervalSince(identity.obtainedAt)) < 5)
        // Another cluster's certificate is refused.
        await #expect(throws: GatewayError.self) {
            _ = try await GatewayIdentity.load(directory: directory, cluster: "west", trustDomain: TestPKI.trustDomain)
        }
    }

    @Test("a short-lived certificate renews two thirds after it arrived, not at once (notBefore is backdated 5 minutes)")
    func shortLifetimeRenewal() async throws {
        let pki = try TestPKI()
        defer { pki.cleanup() }
        let (chain, key) = try pki.issue("east", lifetime: 30)
        let arrived = Date()
        let identity = try await GatewayIdentity(chainPEM: chain, privateKeyPEM: key, trustBundlePEM: pki.ca.trustBundlePEM,
                                                 cluster: "east", trustDomain: TestPKI.trustDomain, obtainedAt: arrived)
        #expect(identity.notBefore < arrived.addingTimeInterval(-250))
        let renewIn = identity.renewalDate.timeIntervalSince(arrived)
        #expect(renewIn > 18 && renewIn < 21, "renews \(renewIn) s after arrival")
    }

    @Test("the last good table survives a restart")
    func tableRoundTrip() throws {
        let pki = try TestPKI()
        defer { pki.cleanup() }
        var table = TestTables.table(source: "east", address: "127.0.0.1:1", peers: ["west": "127.0.0.1:2"], levels: [[("west", 1)]])
        table.version = 42
        try TableStore.write(table, to: pki.path("data"))
        let read = try TableStore.read(pki.path("data/table.json"))
        #expect(read == table)
        #expect(throws: GatewayError.self) { try TableStore.read(pki.path("missing.json")) }
    }
}
