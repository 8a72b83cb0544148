import Foundation
import Logging
import MeridianClient
import MeridianHub
import MeridianModel
import MeridianStore
import NIOCore
import NIOHTTP1
import Testing

/// The hub as a component that can fail: replicas take over leadership, and PostgreSQL can restart under it.
@Suite("Hub resilience", .timeLimit(.minutes(4)))
struct ResilienceTests {
    static func tableVersion(_ client: HubClient, _ cluster: String) async throws -> Int64 {
        let table = try await client.request(.GET, "/v1/routes/\(cluster)", as: RoutingTable.self)
        return table.version
    }

    static func waitUntil(_ what: String, timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out waiting until \(what)")
        throw TestFailure("timed out waiting until \(what)")
    }

    @Test("when the leading hub dies, another replica takes the lock and keeps publishing")
    func leaderFailover() async throws {
        let url = try TestPostgres.freshDatabase()
        let first = try await TestHub.start(databaseURL: url, adminToken: "lead-admin")
        let second = try await TestHub.start(dataDirectory: first.dataDirectory, databaseURL: url, adminToken: "lead-admin")
        defer { Task { await second.stop() } }
        let viaSecond = try second.client()
        _ = try await viaSecond.registerCluster(ClusterRegistration(name: "fra", region: "aws-eu-central-1", gatewayAddress: "10.0.0.1:15443"))
        try await Self.waitUntil("a table for fra is published") { try await Self.tableVersion(viaSecond, "fra") >= 1 }
        let before = try await Self.tableVersion(viaSecond, "fra")
        await first.stop()
        let stopped = ContinuousClock.now
        _ = try await viaSecond.registerCluster(ClusterRegistration(name: "sto", region: "aws-eu-north-1", gatewayAddress: "10.0.0.2:15443"))
        try await Self.waitUntil("the surviving hub publishes the change", timeout: .seconds(30)) { try await Self.tableVersion(viaSecond, "fra") > before }
        let takeover = ContinuousClock.now - stopped
        #expect(takeover < .seconds(10), "takeover took \(takeover)")
        let metrics = String(decoding: try await viaSecond.send(.GET, "/metrics").body, as: UTF8.self)
        #expect(metrics.contains("meridian_hub_leader 1"), "the second hub leads now")
    }

    @Test("PostgreSQL restarting under a hub: it reconnects, and no acknowledged write is lost")
    func postgresRestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-pgrestart-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let hub = try await TestHub.start(dataDirectory: directory, embedded: true, adminToken: "pg-admin")
        defer { Task { await hub.stop() } }
        let client = try hub.client()
        for index in 0..<5 {
            _ = try await client.registerCluster(ClusterRegistration(name: "c\(index)", region: "aws-eu-central-1", gatewayAddress: "10.0.0.\(index + 1):15443"))
        }
        let postgres = try EmbeddedPostgres(configuration: .init(dataDirectory: directory + "/postgres"), logger: Logger(label: "test"))
        try postgres.stop()
        // While it is down a write is not acknowledged: an error, or no answer within the client's timeout.
        if let during = try? await client.send(.POST, "/v1/clusters", body: Data(#"{"name":"late","region":"aws-eu-central-1","gatewayAddress":"h:1"}"#.utf8),
                                               timeout: .seconds(3)) {
            #expect(during.status >= 500)
        }
        try postgres.start()
        // The pool reconnects with its own backoff (100 ms growing by 1.25x per failed attempt).
        try await Self.waitUntil("the hub answers again", timeout: .seconds(90)) { try await client.clusters().items.count >= 5 }
        let names = try await client.clusters().items.map(\.name)
        #expect(["c0", "c1", "c2", "c3", "c4"].allSatisfy(names.contains), "every acknowledged write is there: \(names)")
        _ = try await client.registerCluster(ClusterRegistration(name: "after", region: "aws-eu-north-1", gatewayAddress: "10.0.1.1:15443"))
        // The notification channel and the leader reconnected too: changes are published again.
        try await Self.waitUntil("a cluster registered after the restart is published", timeout: .seconds(60)) {
            try await client.request(.GET, "/v1/routes/c0", as: RoutingTable.self).peers.contains { $0.cluster == "after" }
        }
        let before = try await Self.tableVersion(client, "c0")
        try await client.removeCluster("after")
        try await Self.waitUntil("a change after the restart is published", timeout: .seconds(30)) { try await Self.tableVersion(client, "c0") > before }
    }
}
