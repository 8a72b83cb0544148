import AsyncHTTPClient
import Foundation
import Logging
import MeridianClient
import MeridianModel
import MeridianStore
import NIOCore
import NIOHTTP1
import Synchronization

/// Starts and stops a whole mesh on this machine with real processes: a hub (embedded PostgreSQL), and per
/// cluster its fake model servers and a real gateway that joins with a one-time token. Used by `meridian demo`
/// and by the end-to-end tests.
public final class MeshLauncher: Sendable {
    /// Settings.
    public struct Configuration: Sendable {
        /// The `meridian` executable to start.
        public var executable: String
        /// Repository root (for `regions/` and `policies/`).
        public var repositoryRoot: String
        /// Working directory for data and logs (created; emptied first).
        public var workDirectory: String
        public var hubPort: Int = 18443
        /// Seconds without heartbeat before the hub marks a cluster down.
        public var heartbeatTimeout: Double = 3
        /// A second hub (replica) on the first one's PostgreSQL listens here when ``MeshLauncher/startReplica()`` is
        /// called; gateways then get both addresses, the replica's first.
        public var replicaPort: Int = 18444
        /// The operator's CA encryption key (base64) given to every hub, so replicas share the CA through the
        /// database. nil: the CA stays in the first hub's data directory.
        public var caEncryptionKey: String?
        /// Lifetime of gateway certificates, seconds; nil keeps the hub's default (24 h).
        public var gatewayCertificateLifetime: Double?
        /// Time to first token of the fake models, ms.
        public var timeToFirstTokenMs: Int = 120
        public var tokenIntervalMs: Int = 25
        public var tokens: Int = 12
        public var adminToken: String = "mrd_demo_" + UUID().uuidString.lowercased()

        public init(executable: String, repositoryRoot: String, workDirectory: String) {
            self.executable = executable
            self.repositoryRoot = repositoryRoot
            self.workDirectory = workDirectory
        }
    }

    public let configuration: Configuration
    public let topology: DemoTopology
    private let processes = Mutex<[String: SpawnedProcess]>([:])
    private let hubState = Mutex<(url: String, caFile: String)?>(nil)
    private let replicaURL = Mutex<String?>(nil)

    public init(configuration: Configuration, topology: DemoTopology) {
        self.configuration = configuration
        self.topology = topology
    }

    public var hubURL: String { hubState.withLock { $0?.url ?? "" } }
    public var caFile: String { hubState.withLock { $0?.caFile ?? "" } }
    public var adminToken: String { configuration.adminToken }

    public func adminClient() throws -> HubClient {
        try HubClient(baseURLs: [hubURL], credentials: .token(adminToken), caPEM: try String(contentsOfFile: caFile, encoding: .utf8))
    }

    func log(_ name: String) -> String { configuration.workDirectory + "/logs/\(name).log" }

    /// Crashes print their message; the backtracer is off, since it can hold a dead process's sockets for minutes.
    static let childEnvironment = ["SWIFT_BACKTRACE": "enable=no"]

    private func start(_ name: String, _ arguments: [String]) throws -> SpawnedProcess {
        let process = try SpawnedProcess.start(name: name, executable: configuration.executable, arguments: arguments, logPath: log(name),
                                               environment: Self.childEnvironment)
        processes.withLock { $0[name] = process }
        return process
    }

    /// The process of a component (`hub`, `gateway-fra`, `model-fra-llama-3-70b`).
    public func process(_ name: String) -> SpawnedProcess? { processes.withLock { $0[name] } }

    // MARK: - Hub

    /// Starts the hub (a fresh data directory) and waits until its API answers.
    public func startHub(fresh: Bool = true) async throws {
        let fm = FileManager.default
        if fresh { try? fm.removeItem(atPath: configuration.workDirectory) }
        try fm.createDirectory(atPath: configuration.workDirectory + "/logs", withIntermediateDirectories: true)
        let url = try await launchHub("hub", directory: hubDirectory, port: configuration.hubPort, arguments: [])
        hubState.withLock { $0 = (url, hubDirectory + "/ca/trust-bundle.pem") }
    }

    /// Starts a second hub, `hub-b`, on the first hub's embedded PostgreSQL (it must be running), and waits until it
    /// answers. Gateways started afterwards watch it first and fall back to the first hub.
    public func startReplica() async throws {
        let database = "postgres://meridian@localhost/meridian?host=\(hubDirectory)/postgres"
        let url = try await launchHub("hub-b", directory: configuration.workDirectory + "/hub-b", port: configuration.replicaPort,
                                      arguments: ["--database-url", database])
        replicaURL.withLock { $0 = url }
    }

    /// Every hub address a gateway is given, the replica's first.
    public var hubURLs: [String] { (replicaURL.withLock { $0 }.map { [$0] } ?? []) + [hubURL] }

    var hubDirectory: String { configuration.workDirectory + "/hub" }

    private func launchHub(_ name: String, directory: String, port: Int, arguments extra: [String]) async throws -> String {
        var environment = Self.childEnvironment.merging(["MERIDIAN_ADMIN_TOKEN": configuration.adminToken]) { $1 }
        if let key = configuration.caEncryptionKey { environment["MERIDIAN_CA_ENCRYPTION_KEY"] = key }
        let process = try SpawnedProcess.start(
            name: name, executable: configuration.executable,
            arguments: ["hub", "--data-dir", directory, "--listen", "127.0.0.1:\(port)",
                        "--regions", configuration.repositoryRoot + "/regions/regions.yaml", "--estimated-rtt-only",
                        "--heartbeat-timeout", String(configuration.heartbeatTimeout),
                        "--log-level", ProcessInfo.processInfo.environment["MERIDIAN_HUB_LOG_LEVEL"] ?? "notice"]
                + (configuration.gatewayCertificateLifetime.map { ["--gateway-certificate-lifetime", String($0)] } ?? []) + extra,
            logPath: log(name), environment: environment)
        processes.withLock { $0[name] = process }
        let url = "https://127.0.0.1:\(port)"
        let caFile = directory + "/ca/trust-bundle.pem"
        try await waitUntil("\(name) answers at \(url)", timeout: .seconds(90), process: process) {
            guard let pem = try? String(contentsOfFile: caFile, encoding: .utf8) else { return false }
            let client = try HubClient(baseURLs: [url], credentials: .none, caPEM: pem, timeout: .seconds(2))
            defer { Task { try? await client.shutdown() } }
            return (try? await client.send(.GET, "/v1/health"))?.status == 200
        }
        return url
    }

    /// Stops a hub (SIGTERM: the first one stops its embedded PostgreSQL too), or kills it.
    public func stopHub(_ name: String = "hub", kill: Bool = false) async {
        guard let hub = process(name) else { return }
        if kill { hub.signal(SIGKILL); _ = hub.isRunning() } else { await hub.stop(grace: .seconds(20)) }
    }

    // MARK: - Registry

    /// Registers every cluster, exports its services, publishes its GPU inventory, imports prices and applies
    /// the example policies.
    public func registerAll() async throws {
        let client = try adminClient()
        defer { Task { try? await client.shutdown() } }
        for cluster in topology.clusters {
            _ = try await client.registerCluster(ClusterRegistration(name: cluster.name, region: cluster.region,
                                                                     gatewayAddress: "\(cluster.address):\(DemoPorts.tunnel)", labels: cluster.labels))
            for service in cluster.services {
                _ = try await client.putService(cluster: cluster.name, name: service, ServiceExportSpec(version: "v1", protocol: .http, port: modelPort(service)))
            }
            _ = try await client.putInventory(cluster: cluster.name, InventoryReport(gpus: cluster.gpus.map {
                GPUPool(model: $0.model, total: $0.count, allocatable: $0.count, inUse: 0, memoryGiB: $0.memoryGiB, utilization: 0.2)
            }))
        }
        let csv = try String(contentsOfFile: configuration.repositoryRoot + "/regions/prices-sample.csv", encoding: .utf8)
        _ = try await client.importPrices(csv: csv)
        for file in ["residency.yaml", "routing.yaml"] {
            let yaml = try String(contentsOfFile: configuration.repositoryRoot + "/policies/" + file, encoding: .utf8)
            _ = try await client.applyPolicy(kind: file == "routing.yaml" ? "routing" : "residency", yaml: yaml, dryRun: false)
        }
    }

    public func modelPort(_ service: String) -> Int {
        DemoPorts.firstModel + (topology.services.firstIndex(of: service) ?? 0)
    }

    // MARK: - Clusters

    /// Starts a cluster's fake model servers and its gateway (joining with a new token unless it joined before).
    public func startCluster(_ name: String, join: Bool = true) async throws {
        guard let cluster = topology.cluster(name) else { throw DemoError("unknown cluster \(name)") }
        for service in cluster.services where process("model-\(name)-\(service)")?.isRunning() != true {
            _ = try start("model-\(name)-\(service)", ["dev", "fake-model", "--listen", "\(cluster.address):\(modelPort(service))",
                                                       "--cluster", name, "--model", service,
                                                       "--ttft-ms", String(configuration.timeToFirstTokenMs),
                                                       "--token-ms", String(configuration.tokenIntervalMs), "--tokens", String(configuration.tokens)])
        }
        try await startGateway(name, join: join)
    }

    /// Starts (or restarts) a cluster's gateway.
    public func startGateway(_ name: String, join: Bool = true) async throws {
        guard let cluster = topology.cluster(name) else { throw DemoError("unknown cluster \(name)") }
        let dataDirectory = configuration.workDirectory + "/gateway-\(name)"
        var arguments = ["gateway", "--cluster", name, "--hub-ca", caFile, "--data-dir", dataDirectory,
                         "--local-listen", "\(cluster.address):\(DemoPorts.local)", "--tunnel-listen", "\(cluster.address):\(DemoPorts.tunnel)",
                         "--metrics-listen", "\(cluster.address):\(DemoPorts.metrics)", "--threads", "1", "--access-log", "off",
                         "--heartbeat-interval", "1", "--probe-interval", "0.5", "--log-level", "notice"]
        for hub in hubURLs { arguments += ["--hub", hub] }
        for service in cluster.services {
            arguments += ["--endpoint", "\(service)=\(cluster.address):\(modelPort(service))",
                          "--vllm-url", "\(service)=http://\(cluster.address):\(modelPort(service))/metrics"]
        }
        if let first = cluster.services.first { arguments += ["--dcgm-url", "http://\(cluster.address):\(modelPort(first))/metrics"] }
        let joined = FileManager.default.fileExists(atPath: dataDirectory + "/gateway-chain.pem")
        if join && !joined {
            let client = try adminClient()
            defer { Task { try? await client.shutdown() } }
            guard let token = try await client.createJoinToken(cluster: name, ttlSeconds: 600).token else { throw DemoError("no join token for \(name)") }
            arguments += ["--join-token", token]
        }
        _ = try start("gateway-\(name)", arguments)
    }

    /// Kills a cluster's gateway at once (SIGKILL), as a crashed node would die.
    public func killGateway(_ name: String) {
        guard let gateway = process("gateway-\(name)") else { return }
        gateway.signal(SIGKILL)
        _ = gateway.isRunning()
    }

    /// Waits until every named cluster is `up` at the hub and its gateway applied its latest table.
    public func waitUntilConverged(_ names: [String]? = nil, timeout: Duration = .seconds(60)) async throws {
        let names = names ?? topology.clusters.map(\.name)
        let client = try adminClient()
        defer { Task { try? await client.shutdown() } }
        try await waitUntil("clusters \(names.joined(separator: ", ")) are up with their tables applied", timeout: timeout, process: nil) {
            let clusters = try await client.clusters().items
            let up = Set(clusters.filter { $0.status == .up }.map(\.name))
            guard names.allSatisfy(up.contains) else { return false }
            // Each has reported its inventory (GPU pools, endpoint health), which the tables are compiled from.
            for name in names where try await client.inventory(cluster: name).observedAt == nil { return false }
            let statuses = try await client.request(.GET, "/v1/config-status", as: Page<ConfigStatus>.self).items
            return statuses.filter { names.contains($0.cluster) }.allSatisfy { $0.publishedVersion != nil && $0.publishedVersion == $0.appliedVersion }
        }
    }

    /// Stops everything this launcher started: gateways and models first, the hub last.
    public func stopAll() async {
        let all = processes.withLock { $0 }
        for (name, process) in all where !name.hasPrefix("hub") { await process.stop(grace: .seconds(3)) }
        await stopHub("hub-b")
        await stopHub()
        // A killed first hub leaves its PostgreSQL running (a restart reuses it); nothing may outlive the launcher.
        if FileManager.default.fileExists(atPath: hubDirectory + "/postgres/postmaster.pid") {
            try? EmbeddedPostgres(configuration: .init(dataDirectory: hubDirectory + "/postgres"), logger: Logger(label: "meridian.demo")).stop()
        }
    }

    /// Polls `condition` (`every` apart) until it holds; fails with the component's log when a process dies or time
    /// runs out.
    public func waitUntil(_ what: String, timeout: Duration, process: SpawnedProcess?, every interval: Duration = .milliseconds(200),
                          condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await condition()) == true { return }
            if let process, !process.isRunning() {
                throw DemoError("\(process.name) exited while waiting until \(what); its log (\(process.logPath)):\n\(process.log().suffix(3000))")
            }
            try await Task.sleep(for: interval)
        }
        throw DemoError("timed out after \(timeout) waiting until \(what)")
    }
}
