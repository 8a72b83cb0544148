import Foundation
import MeridianClient
import MeridianHub
import MeridianModel
import MeridianPKI
import MeridianStore
import NIOHTTP1
import Testing

/// The distribution side of the control loop: joining, the blocking query, heartbeats, the failure detector, and
/// hub replicas on one PostgreSQL.
@Suite("Control plane")
struct ControlPlaneTests {
    /// Registers a cluster and joins it as a gateway would; returns a client with the gateway's mTLS identity.
    static func joinGateway(_ hub: TestHub, name: String, region: String, hubURLs: [String]? = nil) async throws -> (HubClient, IssuedCertificate) {
        let admin = try hub.client()
        _ = try await admin.registerCluster(ClusterRegistration(name: name, region: region, gatewayAddress: "127.0.0.1:1\(name.count)443"))
        _ = try await admin.putService(cluster: name, name: "llama", ServiceExportSpec(port: 8000))
        let token = try #require(try await admin.createJoinToken(cluster: name).token)
        let keys = try GatewayKeyPair.generate(cluster: name)
        let issued = try await hub.anonymousClient().join(JoinRequest(cluster: name, token: token, csrPEM: keys.csrPEM))
        #expect(issued.spiffeID == "spiffe://meridian.local/cluster/\(name)/gateway")
        let client = try HubClient(baseURLs: hubURLs ?? [hub.ready.url], credentials: .certificate(chainPEM: issued.chainPEM, privateKeyPEM: keys.privateKeyPEM),
                                   caPEM: issued.trustBundlePEM)
        return (client, issued)
    }

    static func heartbeat(_ client: HubClient, cluster: String, probes: [PeerProbe] = []) async throws {
        try await client.heartbeat(Heartbeat(cluster: cluster, sentAt: Date(), inventory: InventoryReport(
            gpus: [GPUPool(model: "H100", total: 8, allocatable: 8, inUse: 1, memoryGiB: 80, utilization: 0.3)],
            services: [ServiceLoad(service: "llama", queueDepth: 0, kvCacheUtilization: 0.1, healthyEndpoints: 1)]), probes: probes))
    }

    @Test("a gateway joins, watches its table, and sees a change within a second")
    func watchSeesChanges() async throws {
        let hub = try await TestHub.start()
        defer { Task { await hub.stop() } }
        let (fra, _) = try await Self.joinGateway(hub, name: "fra", region: "aws-eu-central-1")
        let (sto, _) = try await Self.joinGateway(hub, name: "sto", region: "aws-eu-north-1")
        try await Self.heartbeat(fra, cluster: "fra")
        try await Self.heartbeat(sto, cluster: "sto")
        // Both come up with their first heartbeat (failure detector, 1 s passes), and fra's table then names sto.
        var table = try #require(try await fra.watchTable(index: 0, wait: .seconds(5)))
        let deadline = ContinuousClock.now + .seconds(10)
        while !(table.entry(service: "llama", dataClass: "public")?.allDestinations.contains("sto") ?? false), ContinuousClock.now < deadline {
            try await Self.heartbeat(fra, cluster: "fra")
            try await Self.heartbeat(sto, cluster: "sto")
            if let next = try await fra.watchTable(index: table.version, wait: .seconds(2)) { table = next }
        }
        let entry = try #require(table.entry(service: "llama", dataClass: "public"))
        #expect(Set(entry.allDestinations) == ["fra", "sto"])
        // A blocking query at the current index waits; a change answers it at once.
        let admin = try hub.client()
        let started = ContinuousClock.now
        let index = table.version
        async let changed = fra.watchTable(index: index, wait: .seconds(20))
        try await Task.sleep(for: .milliseconds(300))
        try await admin.removeCluster("sto")
        let next = try #require(try await changed)
        let elapsed = ContinuousClock.now - started
        #expect(next.version > table.version)
        #expect(next.entry(service: "llama", dataClass: "public")?.allDestinations == ["fra"])
        #expect(next.revokedSerials.count >= 1, "the removed cluster's certificate rides in the table")
        #expect(elapsed < .seconds(1) + .milliseconds(300), "push took \(elapsed)")
        try await fra.acknowledge(version: next.version, hash: next.hash)
        let status = try await admin.request(.GET, "/v1/clusters/fra/config-status", as: ConfigStatus.self)
        #expect(status.appliedVersion == next.version)
        #expect(status.convergenceMs != nil)
    }

    @Test("a removed cluster's gateway certificate is refused by the hub")
    func revokedGatewayRefused() async throws {
        let hub = try await TestHub.start()
        defer { Task { await hub.stop() } }
        let (bom, _) = try await Self.joinGateway(hub, name: "bom", region: "aws-ap-south-1")
        try await Self.heartbeat(bom, cluster: "bom")
        try await hub.client().removeCluster("bom")
        await #expect(throws: HubClient.Failure.self) { try await Self.heartbeat(bom, cluster: "bom") }
    }

    @Test("a gateway cannot report for another cluster, and a token is not a gateway identity")
    func gatewayBoundaries() async throws {
        let hub = try await TestHub.start()
        defer { Task { await hub.stop() } }
        let (fra, _) = try await Self.joinGateway(hub, name: "fra", region: "aws-eu-central-1")
        _ = try await hub.client().registerCluster(ClusterRegistration(name: "iad", region: "aws-us-east-1", gatewayAddress: "h:1"))
        do {
            try await Self.heartbeat(fra, cluster: "iad")
            Issue.record("a gateway reported for another cluster")
        } catch let failure as HubClient.Failure {
            #expect(failure.status == 403)
        }
        let response = try await hub.client().send(.GET, "/v1/gateway/config?index=0&wait=1s")
        #expect(response.status == 403)
    }

    @Test("a policy applied through one hub reaches a gateway watching another")
    func replicasShareChanges() async throws {
        let url = try TestPostgres.freshDatabase()
        let hubA = try await TestHub.start(databaseURL: url, adminToken: "shared-admin")
        defer { Task { await hubA.stop() } }
        // Hub B shares the database and the CA directory's material (replicas carry the same CA).
        let hubB = try await TestHub.start(dataDirectory: hubA.dataDirectory, databaseURL: url, adminToken: "shared-admin")
        defer { Task { await hubB.stop() } }
        let (fraOnB, _) = try await Self.joinGateway(hubA, name: "fra", region: "aws-eu-central-1", hubURLs: [hubB.ready.url])
        try await Self.heartbeat(fraOnB, cluster: "fra")
        var table = try #require(try await fraOnB.watchTable(index: 0, wait: .seconds(5)))
        let policy = """
            apiVersion: meridian.dev/v1
            kind: ResidencyPolicy
            metadata: {name: replicas}
            defaultClass: public
            dataClasses:
              public:
                allow: ["*"]
              eu-personal:
                allow: [EU]
            """
        let index = table.version
        async let next = fraOnB.watchTable(index: index, wait: .seconds(20))
        try await Task.sleep(for: .milliseconds(200))
        let started = ContinuousClock.now
        _ = try await hubA.client().applyPolicy(kind: "residency", yaml: policy, dryRun: false)
        table = try #require(try await next)
        // Other changes (the cluster coming up) may publish first; keep watching until the policy arrives.
        while table.policy.classes["eu-personal"] == nil, ContinuousClock.now - started < .seconds(5) {
            if let newer = try await fraOnB.watchTable(index: table.version, wait: .seconds(5)) { table = newer }
        }
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(table.policy.classes.keys.sorted() == ["eu-personal", "public"])
        #expect(table.entry(service: "llama", dataClass: "eu-personal") != nil)
    }
}

@Suite("Failure detector")
struct FailureDetectorTests {
    let now = Date(timeIntervalSince1970: 1_000_000)

    func cluster(_ name: String, _ status: ClusterStatus, heartbeatAgo: TimeInterval?) -> Cluster {
        Cluster(name: name, region: "r", provider: "aws", jurisdiction: Jurisdiction(country: "DE"), gatewayAddress: "h:1", labels: [:],
                status: status, createdAt: now, updatedAt: now, lastHeartbeatAt: heartbeatAgo.map { now.addingTimeInterval(-$0) })
    }

    func probe(_ from: String, _ to: String, _ reachable: Bool, ago: TimeInterval = 1) -> ProbeObservation {
        ProbeObservation(from: from, to: to, reachable: reachable, rttMs: 1, observedAt: now.addingTimeInterval(-ago))
    }

    @Test("missed heartbeats take a cluster down; resumed heartbeats bring it back")
    func heartbeats() {
        let detector = FailureDetector(heartbeatTimeout: 6)
        let transitions = detector.evaluate(clusters: [cluster("a", .up, heartbeatAgo: 7), cluster("b", .down, heartbeatAgo: 1),
                                                       cluster("c", .pending, heartbeatAgo: nil), cluster("d", .pending, heartbeatAgo: 2)],
                                            probes: [], now: now)
        #expect(transitions.map(\.cluster) == ["a", "b", "d"])
        #expect(transitions.map(\.status) == [.down, .up, .up])
        #expect(transitions[0].reason.contains("no heartbeat"))
    }

    @Test("most peers unable to reach a cluster take it down; one partitioned peer does not")
    func peerReports() {
        let detector = FailureDetector(heartbeatTimeout: 6)
        let clusters = ["a", "b", "c", "d"].map { cluster($0, .up, heartbeatAgo: 1) }
        let onePeer = detector.evaluate(clusters: clusters, probes: [probe("b", "a", false), probe("c", "a", true), probe("d", "a", true)], now: now)
        #expect(onePeer.isEmpty)
        let most = detector.evaluate(clusters: clusters, probes: [probe("b", "a", false), probe("c", "a", false), probe("d", "a", true)], now: now)
        #expect(most.map(\.cluster) == ["a"])
        #expect(most.first?.status == .down)
        #expect(most.first?.reason == "2 of 3 peers cannot reach its gateway")
        // Stale reports and reports from dead reporters do not count.
        let stale = detector.evaluate(clusters: clusters, probes: [probe("b", "a", false, ago: 60), probe("c", "a", false, ago: 60)], now: now)
        #expect(stale.isEmpty)
        let deadReporters = detector.evaluate(clusters: [clusters[0], cluster("b", .down, heartbeatAgo: 30), cluster("c", .down, heartbeatAgo: 30)],
                                              probes: [probe("b", "a", false), probe("c", "a", false)], now: now)
        #expect(deadReporters.isEmpty)
    }
}
