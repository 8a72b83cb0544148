import Foundation
import MeridianClient
import MeridianHub
import MeridianModel
import MeridianStore
import NIOHTTP1
import PostgresNIO
import Testing

@Suite("Registry survives restarts; imports, audit and join tokens", .timeLimit(.minutes(4)))
struct PersistenceTests {
    @Test("a restart of the hub with its embedded PostgreSQL keeps every object and the CA")
    func restartKeepsEverything() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-restart-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try await TestHub.start(dataDirectory: directory, embedded: true, adminToken: "restart-admin")
        let client = try first.client()
        _ = try await client.registerCluster(ClusterRegistration(name: "fra", region: "aws-eu-central-1", gatewayAddress: "10.1.0.1:15443", labels: ["tier": "gold"]))
        _ = try await client.registerCluster(ClusterRegistration(name: "iad", region: "aws-us-east-1", gatewayAddress: "10.2.0.1:15443"))
        _ = try await client.putInventory(cluster: "fra", InventoryReport(gpus: [GPUPool(model: "H100", total: 8, allocatable: 6, inUse: 2, memoryGiB: 80, utilization: 0.4)],
                                                                          services: [ServiceLoad(service: "llama", queueDepth: 3, kvCacheUtilization: 0.2)]))
        _ = try await client.putService(cluster: "fra", name: "llama", ServiceExportSpec(version: "3.1", protocol: .http, port: 8000, defaultDataClass: "public"))
        let csv = try String(contentsOfFile: TestHub.repositoryRoot + "/regions/prices-sample.csv", encoding: .utf8)
        let imported = try await client.importPrices(csv: csv)
        _ = try await client.createToken(TokenCreateRequest(name: "ops", role: .platform))
        let trustBefore = try String(contentsOfFile: first.ready.caFile, encoding: .utf8)
        let auditBefore = try await client.audit(limit: 1000).items.count
        await first.stop()

        let second = try await TestHub.start(dataDirectory: directory, embedded: true, adminToken: "ignored-now")
        defer { Task { await second.stop() } }
        #expect(second.ready.bootstrapAdminToken == nil, "a second start must not print a new admin token")
        let again = try second.client(token: "restart-admin")
        let clusters = try await again.clusters().items
        #expect(clusters.map(\.name) == ["fra", "iad"])
        #expect(clusters.first?.labels == ["tier": "gold"])
        let inventory = try await again.inventory(cluster: "fra")
        #expect(inventory.gpus.first?.allocatable == 6)
        #expect(inventory.services.first?.queueDepth == 3)
        #expect(try await again.prices().items.count == imported.imported)
        #expect(try await again.audit(limit: 1000).items.count == auditBefore)
        #expect(try String(contentsOfFile: second.ready.caFile, encoding: .utf8) == trustBefore, "the CA must survive a restart")
        let exports = try await again.request(.GET, "/v1/services?cluster=fra", as: Page<ServiceExport>.self).items
        #expect(exports.map(\.name) == ["llama"])
    }

    @Test("the sample SkyPilot catalog imports as per-GPU prices")
    func csvImport() async throws {
        let hub = try await TestHub.start()
        defer { Task { await hub.stop() } }
        let client = try hub.client()
        let csv = try String(contentsOfFile: TestHub.repositoryRoot + "/regions/prices-sample.csv", encoding: .utf8)
        let result = try await client.importPrices(csv: csv)
        #expect(result.imported > 10)
        let catalog = try SkyPilotCatalog(csv: csv)
        // Check one row by hand: per-GPU price is the instance price over its accelerator count, cheapest instance winning.
        let rows = catalog.rows.filter { $0.region == "eu-central-1" && $0.acceleratorName == "A100" }
        let expected = try #require(rows.compactMap { row in row.price.map { $0 / row.acceleratorCount } }.min())
        let stored = try await client.prices(region: "aws-eu-central-1").items.first { $0.gpuModel == "A100" }
        #expect(abs((stored?.onDemandPerHour ?? -1) - expected) < 1e-9)
        #expect(stored?.source == "skypilot-catalog")
        // Importing again changes nothing but the audit log.
        let again = try await client.importPrices(csv: csv)
        #expect(again.imported == result.imported)
        #expect(try await client.prices().items.count == result.imported)
    }

    @Test("every mutation is audited with actor, before and after")
    func auditTrail() async throws {
        let hub = try await TestHub.start()
        defer { Task { await hub.stop() } }
        let admin = try hub.client()
        let platform = try await admin.createToken(TokenCreateRequest(name: "platform-team", role: .platform))
        let client = try hub.client(token: platform.secret!)
        _ = try await client.registerCluster(ClusterRegistration(name: "sto", region: "aws-eu-north-1", gatewayAddress: "h:1", labels: ["a": "1"]))
        _ = try await client.request(.PATCH, "/v1/clusters/sto", json: ClusterUpdate(labels: ["a": "2"]), as: Cluster.self)
        try await client.removeCluster("sto")
        let entries = try await admin.audit(objectType: "cluster", objectName: "sto").items
        #expect(entries.map(\.action) == ["cluster.remove", "cluster.update", "cluster.register"])
        #expect(entries.allSatisfy { $0.actor == "token:platform-team" })
        let update = entries[1]
        #expect(update.before?["labels"]?["a"] == .string("1"))
        #expect(update.after?["labels"]?["a"] == .string("2"))
        #expect(entries[2].before == nil)
    }

    @Test("a join token is single-use, expires and is bound to its cluster; refusals are audited")
    func joinTokens() async throws {
        let hub = try await TestHub.start()
        defer { Task { await hub.stop() } }
        let client = try hub.client()
        _ = try await client.registerCluster(ClusterRegistration(name: "bom", region: "aws-ap-south-1", gatewayAddress: "h:1"))
        _ = try await client.registerCluster(ClusterRegistration(name: "iad", region: "aws-us-east-1", gatewayAddress: "h:2"))
        let token = try #require(try await client.createJoinToken(cluster: "bom").token)
        try await hub.withStore { store in
            await #expect(throws: APIError.self) { try await store.consumeJoinToken(cluster: "iad", secret: token) }
            try await store.consumeJoinToken(cluster: "bom", secret: token)
            await #expect(throws: APIError.self) { try await store.consumeJoinToken(cluster: "bom", secret: token) }
            let expired = try await store.createJoinToken(cluster: "bom", ttlSeconds: 60, actor: "test")
            try await store.client.query("UPDATE join_tokens SET expires_at = now() - interval '1 second' WHERE id = \(expired.id)")
            await #expect(throws: APIError.self) { try await store.consumeJoinToken(cluster: "bom", secret: expired.token!) }
        }
        let refusals = try await client.audit(action: "join-token.refused").items
        #expect(refusals.count == 3)
        let reasons = refusals.compactMap { $0.after?["reason"] }
        #expect(reasons.contains { if case .string(let s) = $0 { return s.contains("already used") } else { return false } })
        #expect(reasons.contains { if case .string(let s) = $0 { return s.contains("expired") } else { return false } })
        #expect(reasons.contains { if case .string(let s) = $0 { return s.contains("bound to cluster 'bom'") } else { return false } })
    }

    @Test("list filters and pagination")
    func listFilters() async throws {
        let hub = try await TestHub.start()
        defer { Task { await hub.stop() } }
        let client = try hub.client()
        let regions = ["aws-eu-central-1", "aws-eu-north-1", "aws-us-east-1", "gcp-us-central1", "azure-centralindia"]
        for (index, region) in regions.enumerated() {
            _ = try await client.registerCluster(ClusterRegistration(name: "c\(index)", region: region, gatewayAddress: "h:\(index + 1)",
                                                                     labels: ["tier": index % 2 == 0 ? "gold" : "silver"]))
        }
        #expect(try await client.clusters(jurisdiction: "EU").items.map(\.name) == ["c0", "c1"])
        #expect(try await client.clusters(jurisdiction: "US").items.map(\.name) == ["c2", "c3"])
        #expect(try await client.clusters(provider: "gcp").items.map(\.name) == ["c3"])
        #expect(try await client.clusters(label: "tier=gold").items.map(\.name) == ["c0", "c2", "c4"])
        #expect(try await client.clusters(region: "azure-centralindia").items.map(\.name) == ["c4"])
        let page1 = try await client.clusters(limit: 2)
        #expect(page1.items.map(\.name) == ["c0", "c1"])
        let page2 = try await client.clusters(limit: 2, cursor: page1.nextCursor)
        #expect(page2.items.map(\.name) == ["c2", "c3"])
        let page3 = try await client.clusters(limit: 2, cursor: page2.nextCursor)
        #expect(page3.items.map(\.name) == ["c4"])
        #expect(page3.nextCursor == nil)
    }
}
