import Foundation
import Logging
import MeridianClient
import MeridianHub
import MeridianModel
import MeridianStore
import PostgresNIO

/// A hub running in this process on a free port, over a real PostgreSQL, with real TLS.
struct TestHub: Sendable {
    let ready: HubReady
    let task: Task<Void, any Error>
    let dataDirectory: String
    let adminToken: String
    let databaseURL: String?

    static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        return FileManager.default.currentDirectoryPath
    }()

    /// Starts a hub. `databaseURL` nil uses a fresh database of the shared test server; pass `embedded: true`
    /// to let the hub start its own PostgreSQL in `dataDirectory` (the default a user gets).
    static func start(dataDirectory: String? = nil, databaseURL: String? = nil, embedded: Bool = false,
                      adminToken: String = "test-admin-\(UUID().uuidString)", configure: (inout HubConfiguration) -> Void = { _ in }) async throws -> TestHub {
        let directory = dataDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("meridian-hub-\(UUID().uuidString)").path
        let url: String? = embedded ? nil : try (databaseURL ?? TestPostgres.freshDatabase())
        var configuration = HubConfiguration(dataDirectory: directory, databaseURL: url, host: "127.0.0.1", port: 0,
                                             regionCatalogPath: repositoryRoot + "/regions/regions.yaml", adminToken: adminToken)
        configuration.embeddedDatabaseFollowsProcess = true
        configure(&configuration)
        var logger = Logger(label: "test.hub")
        logger[metadataKey: "test.hub"] = "\(URL(fileURLWithPath: directory).lastPathComponent)"
        logger.logLevel = ProcessInfo.processInfo.environment["MERIDIAN_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        let (stream, continuation) = AsyncStream.makeStream(of: HubReady.self)
        let hub = Hub(configuration: configuration, logger: logger) { ready in continuation.yield(ready) }
        let task = Task { try await hub.run() }
        let ready = try await withThrowingTaskGroup(of: HubReady?.self) { group in
            group.addTask {
                for await ready in stream { return ready }
                return nil
            }
            group.addTask { try await Task.sleep(for: .seconds(60)); return nil }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
        guard let ready else {
            task.cancel()
            throw TestFailure("the hub did not start within 60 s")
        }
        return TestHub(ready: ready, task: task, dataDirectory: directory, adminToken: adminToken, databaseURL: url)
    }

    /// Stops the hub and waits for it.
    func stop() async {
        task.cancel()
        _ = await task.result
    }

    func client(token: String? = nil) throws -> HubClient {
        try HubClient(baseURLs: [ready.url], credentials: .token(token ?? adminToken),
                      caPEM: try String(contentsOfFile: ready.caFile, encoding: .utf8))
    }

    func anonymousClient() throws -> HubClient {
        try HubClient(baseURLs: [ready.url], credentials: .none, caPEM: try String(contentsOfFile: ready.caFile, encoding: .utf8))
    }

    /// A store on the hub's database, to look behind the API.
    func withStore<T: Sendable>(_ body: @Sendable (MeridianStore) async throws -> T) async throws -> T {
        var endpoint = try databaseURL.map { try DatabaseEndpoint(url: $0) }
            ?? DatabaseEndpoint(address: .unixSocket(path: dataDirectory + "/postgres/.s.PGSQL.5432"), username: "meridian", database: "meridian")
        var logger = Logger(label: "test.store")
        logger.logLevel = .error
        endpoint.maximumConnections = 2
        let client = PostgresClient(configuration: endpoint.clientConfiguration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { await client.run(); return nil }
            let result = try await body(MeridianStore(client: client, logger: Logger(label: "test.store")))
            group.cancelAll()
            return result
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
