import Foundation
import MeridianClient
import MeridianDemo
import MeridianModel
import NIOHTTP1
import Testing

/// Two hub processes on one PostgreSQL, sharing the CA through the database, and gateways given both addresses:
/// a change made through one hub reaches gateways watching the other; when the hub they watch dies they move to the
/// other (which takes over the leader's jobs if needed); with both hubs dead, traffic flows and fails over.
@Suite("End to end: hub replicas", .serialized)
struct HubReplicaTests {
    static let clusters = ["fra", "sto", "bom"]

    @Test("a change through hub A reaches gateways watching hub B; B dies, A serves; both die, traffic still flows and fails over",
          .timeLimit(.minutes(5)))
    func replicas() async throws {
        try await MeshEndToEndTests.withMesh("replicas", firstAddress: 51, hubPort: 28445, configure: { configuration in
            configuration.replicaPort = 28446
            configuration.caEncryptionKey = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
            configuration.timeToFirstTokenMs = 20
            configuration.tokenIntervalMs = 10
        }, run)
    }

    func run(_ mesh: MeshLauncher, _ traffic: TrafficClient) async throws {
        try await mesh.startHub()
        try await mesh.registerAll()
        try await mesh.startReplica()
        let hubA = mesh.hubURL
        let hubB = try #require(mesh.hubURLs.first { $0 != hubA })
        let caPEM = try String(contentsOfFile: mesh.caFile, encoding: .utf8)
        let viaA = try HubClient(baseURLs: [hubA], credentials: .token(mesh.adminToken), caPEM: caPEM)
        defer { Task { try? await viaA.shutdown() } }
        let viaB = try HubClient(baseURLs: [hubB], credentials: .token(mesh.adminToken), caPEM: caPEM)
        defer { Task { try? await viaB.shutdown() } }
        // One CA for both: a client trusting hub A's bundle talks to hub B.
        #expect(try await viaB.send(.GET, "/v1/health").status == 200)

        for cluster in Self.clusters { try await mesh.startCluster(cluster) }
        try await mesh.waitUntilConverged(Self.clusters, timeout: .seconds(90))
        // The gateways watch hub B (given first): B records their acknowledgements, A none.
        #expect(try await acknowledgements(viaB) > 0)
        #expect(try await acknowledgements(viaA) == 0)

        // A policy change through hub A reaches the gateways through hub B: llama-3-70b's price ceiling drops below
        // the H100 pools' list price.
        let routing = try String(contentsOfFile: MeshEndToEndTests.repositoryRoot + "/policies/routing.yaml", encoding: .utf8)
        let stricter = routing.replacingOccurrences(of: "priceCeilingPerGPUHour: 14.0", with: "priceCeilingPerGPUHour: 10.0")
        #expect(stricter != routing)
        try await changeAndWait(mesh, observedVia: viaB, what: "a policy change made through hub A") {
            _ = try await viaA.applyPolicy(kind: "routing", yaml: stricter, dryRun: false)
        }

        // Hub B dies: the gateways move to hub A, and A publishes (it leads now, if B led).
        await mesh.stopHub("hub-b", kill: true)
        try await changeAndWait(mesh, observedVia: viaA, what: "a change after hub B died") {
            _ = try await viaA.registerCluster(ClusterRegistration(name: "extra", region: "aws-eu-west-1", gatewayAddress: "192.0.2.1:15443"))
        }
        #expect(try await acknowledgements(viaA) > 0, "the gateways acknowledge to hub A now")

        // Both hubs dead: traffic flows on the last tables and fails over on the gateways' own probes.
        await mesh.stopHub(kill: true)
        let bom = "\(mesh.topology.cluster("bom")!.address):\(DemoPorts.local)"
        let stillFlowing = await traffic.chat(gateway: bom, service: "triage-assistant", dataClass: "eu-personal", stream: false)
        #expect(stillFlowing.succeeded && MeshEndToEndTests.eu.contains(stillFlowing.servedBy ?? ""),
                "with no hub: \(stillFlowing.status) from \(stillFlowing.servedBy ?? "nobody")")
        let report = try await MeshEndToEndTests().failover(mesh, traffic, from: "bom", victim: "sto")
        print("failover with both hubs dead: \(report)")
        #expect(report.euOutside == 0, "eu-personal answered outside the EU \(report.euOutside) times")
        #expect(report.retryableFailures == 0, "retryable requests failed: \(report.retryableFailures)")
        #expect(report.timeToMove < .seconds(1), "traffic took \(report.timeToMove) to move")

        // Hub A comes back on the same PostgreSQL; the surviving gateways reconnect.
        try await mesh.startHub(fresh: false)
        try await mesh.waitUntilConverged(["fra", "bom"], timeout: .seconds(60))
    }

    /// Makes a change and waits until some gateway's table changed and every gateway has applied its latest table,
    /// as `observer` reports it.
    func changeAndWait(_ mesh: MeshLauncher, observedVia observer: HubClient, what: String, change: () async throws -> Void) async throws {
        let before = try await statuses(observer)
        try await change()
        let started = ContinuousClock.now
        try await mesh.waitUntil("\(what) is applied by every gateway", timeout: .seconds(20), process: nil, every: .milliseconds(100)) {
            let now = try await statuses(observer)
            let moved = Self.clusters.filter { (now[$0]?.publishedVersion ?? 0) > (before[$0]?.publishedVersion ?? 0) }
            return !moved.isEmpty && Self.clusters.allSatisfy { now[$0]?.appliedVersion != nil && now[$0]?.appliedVersion == now[$0]?.publishedVersion }
        }
        print("\(what): applied by every gateway in \(ContinuousClock.now - started)")
    }

    func statuses(_ client: HubClient) async throws -> [String: ConfigStatus] {
        let statuses = try await client.request(.GET, "/v1/config-status", as: Page<ConfigStatus>.self).items
        return Dictionary(statuses.map { ($0.cluster, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// How many table acknowledgements a hub has recorded (its convergence histogram's count).
    func acknowledgements(_ client: HubClient) async throws -> Int {
        let text = String(decoding: try await client.send(.GET, "/metrics").body, as: UTF8.self)
        let counts = text.split(separator: "\n").filter { $0.hasPrefix("meridian_hub_proxy_convergence_seconds_count") }
        return counts.compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
    }
}
