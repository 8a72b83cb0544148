import Foundation
import Logging
import MeridianClient
import MeridianHub
import MeridianModel
import MeridianPKI
import MeridianStore
import NIOHTTP1
import PostgresNIO
import Testing

/// Hub replicas on different machines share one CA through the database, its key sealed under the operator's key.
@Suite("Hub: CA sealed in the database")
struct SealedCATests {
    @Test("two hubs with their own data directories and one key share the CA; no key file, no plaintext key in the database")
    func replicasShareTheCA() async throws {
        let url = try TestPostgres.freshDatabase()
        let key = CAEncryptionKey.generate()
        let hubA = try await TestHub.start(databaseURL: url) { $0.caEncryptionKey = key }
        defer { Task { await hubA.stop() } }
        let hubB = try await TestHub.start(databaseURL: url) { $0.caEncryptionKey = key }
        defer { Task { await hubB.stop() } }
        #expect(hubA.dataDirectory != hubB.dataDirectory)

        let bundleA = try String(contentsOfFile: hubA.ready.caFile, encoding: .utf8)
        let bundleB = try String(contentsOfFile: hubB.ready.caFile, encoding: .utf8)
        #expect(bundleA == bundleB, "replicas must serve the same trust bundle")
        for hub in [hubA, hubB] {
            #expect(!FileManager.default.fileExists(atPath: hub.dataDirectory + "/ca/" + MeshCA.privateKeyFileName))
        }
        // A client trusting hub A's bundle reaches hub B: B's server certificate comes from the same CA.
        let crossClient = try HubClient(baseURLs: [hubB.ready.url], credentials: .token(hubA.adminToken), caPEM: bundleA)
        defer { Task { try? await crossClient.shutdown() } }
        #expect(try await crossClient.send(.GET, "/v1/health").status == 200)

        let (stored, audit) = try await hubA.withStore { store in
            (try await store.sealedMeshCA(), try await store.auditLog(AuditFilter(action: "ca.store")).items)
        }
        let sealed = try #require(stored)
        #expect(!String(decoding: sealed.sealedKey, as: UTF8.self).contains("PRIVATE KEY"))
        #expect(sealed.keyID == (try CAEncryptionKey(base64: key)).id)
        #expect(audit.count == 1, "the CA is stored once, by the first hub")
    }

    @Test("a hub given another key refuses to start, naming both keys, and changes nothing")
    func wrongKeyRefused() async throws {
        let url = try TestPostgres.freshDatabase()
        let key = CAEncryptionKey.generate()
        let first = try await TestHub.start(databaseURL: url) { $0.caEncryptionKey = key }
        let before = try await first.withStore { try await $0.sealedMeshCA() }
        await first.stop()

        let wrong = CAEncryptionKey.generate()
        var configuration = HubConfiguration(dataDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("meridian-hub-\(UUID().uuidString)").path,
                                             databaseURL: url, host: "127.0.0.1", port: 0,
                                             regionCatalogPath: TestHub.repositoryRoot + "/regions/regions.yaml", adminToken: "x")
        configuration.caEncryptionKey = wrong
        let hub = Hub(configuration: configuration, logger: Logger(label: "test.hub", factory: { _ in SwiftLogNoOpLogHandler() })) { _ in
            Issue.record("a hub with the wrong key must not start")
        }
        let error = await #expect(throws: MeshPKIError.self) { try await hub.run() }
        #expect(error?.code == .invalidKey)
        #expect(error?.message.contains(try CAEncryptionKey(base64: wrong).id) == true)
        let after = try await first.withStore { try await $0.sealedMeshCA() }
        #expect(after == before)
    }

    @Test("with a key, a hub whose data directory holds a CA stores that CA (gateways keep their trust)")
    func importsTheDataDirectoryCA() async throws {
        let url = try TestPostgres.freshDatabase()
        let plain = try await TestHub.start(databaseURL: url)
        let bundle = try String(contentsOfFile: plain.ready.caFile, encoding: .utf8)
        await plain.stop()
        let sealed = try await TestHub.start(dataDirectory: plain.dataDirectory, databaseURL: url) { $0.caEncryptionKey = CAEncryptionKey.generate() }
        defer { Task { await sealed.stop() } }
        #expect(try String(contentsOfFile: sealed.ready.caFile, encoding: .utf8) == bundle)
        let stored = try await sealed.withStore { try await $0.sealedMeshCA() }
        #expect(stored?.trustBundlePEM == bundle)
    }
}
