import Foundation
import MeridianClient
import MeridianModel
import MeridianPKI
import NIOCore
import NIOHTTP1
import Synchronization

/// Connects N simulated gateways (real mTLS identities, real blocking queries) to one hub process, changes one
/// cluster, and measures how long each gateway takes to receive the new table: the hub's push convergence.
public struct ControlPlaneBenchmark: Sendable {
    public struct Result: Sendable {
        public var gateways: Int
        public var samples: [Double]
        public var baselineMs: Double
        /// Size of one gateway's table as served (JSON bytes): every change sends one to each gateway.
        public var tableBytes: Int
        public func percentile(_ p: Double) -> Double {
            let sorted = samples.sorted()
            guard !sorted.isEmpty else { return .nan }
            return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p + 0.5))]
        }
    }

    let executable: String
    let repositoryRoot: String
    let workDirectory: String
    let say: @Sendable (String) -> Void

    public init(executable: String, repositoryRoot: String, workDirectory: String, say: @escaping @Sendable (String) -> Void) {
        self.executable = executable
        self.repositoryRoot = repositoryRoot
        self.workDirectory = workDirectory
        self.say = say
    }

    /// Runs one measurement per gateway count, each against a fresh hub.
    public func run(counts: [Int], rounds: Int) async throws -> [Result] {
        var results: [Result] = []
        for count in counts {
            results.append(try await measure(gateways: count, rounds: rounds))
        }
        return results
    }

    func measure(gateways count: Int, rounds: Int) async throws -> Result {
        var configuration = MeshLauncher.Configuration(executable: executable, repositoryRoot: repositoryRoot, workDirectory: workDirectory + "/n\(count)")
        configuration.hubPort = 19443
        configuration.heartbeatTimeout = 3600
        let launcher = MeshLauncher(configuration: configuration, topology: try DemoTopology(yaml: "clusters: []"))
        try await launcher.startHub()
        defer { Task { await launcher.stopAll() } }
        let admin = try launcher.adminClient()
        let caPEM = try String(contentsOfFile: launcher.caFile, encoding: .utf8)
        let regions = ["aws-eu-central-1", "aws-eu-north-1", "aws-us-east-1", "aws-ap-south-1", "gcp-us-central1", "azure-swedencentral"]

        say("  \(count) gateways: registering and joining ...")
        let clients = try await withThrowingTaskGroup(of: (Int, HubClient).self) { group in
            var clients = [HubClient?](repeating: nil, count: count)
            for index in 0..<count {
                group.addTask {
                    let name = "g\(index)"
                    _ = try await admin.registerCluster(ClusterRegistration(name: name, region: regions[index % regions.count], gatewayAddress: "10.0.\(index / 250).\(index % 250 + 1):15443"))
                    _ = try await admin.putService(cluster: name, name: "llama", ServiceExportSpec(port: 8000))
                    let token = try await admin.createJoinToken(cluster: name).token!
                    let keys = try GatewayKeyPair.generate(cluster: name)
                    let anonymous = try HubClient(baseURLs: [launcher.hubURL], credentials: .none, caPEM: caPEM)
                    let issued = try await anonymous.join(JoinRequest(cluster: name, token: token, csrPEM: keys.csrPEM))
                    try await anonymous.shutdown()
                    return (index, try HubClient(baseURLs: [launcher.hubURL], credentials: .certificate(chainPEM: issued.chainPEM, privateKeyPEM: keys.privateKeyPEM), caPEM: caPEM))
                }
                if index >= 16 { let (i, c) = try await group.next()!; clients[i] = c }
            }
            for try await (i, c) in group { clients[i] = c }
            return clients.map { $0! }
        }

        // Baseline in the same run: one plain API round trip.
        var baseline: [Double] = []
        for _ in 0..<20 {
            let started = ContinuousClock.now
            _ = try await admin.send(.GET, "/v1/health")
            baseline.append(milliseconds(ContinuousClock.now - started))
        }

        // Every gateway holds a blocking query; record when each sees a version above the one it holds. Simulated
        // gateways read the version and hash from the headers and do not decode the body: a real gateway decodes
        // its own table on its own machine, and 500 decodes here would measure this process, not the hub.
        let versions = VersionBoard(count: count)
        let result: Result = try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, client) in clients.enumerated() {
                group.addTask {
                    var index64: Int64 = 0
                    while !Task.isCancelled {
                        guard let response = try? await client.send(.GET, "/v1/gateway/config?index=\(index64)&wait=30s", timeout: .seconds(40)),
                              response.status == 200, let version = response.headers.first(name: "X-Meridian-Index").flatMap({ Int64($0) }),
                              let hash = response.headers.first(name: "X-Meridian-Hash"), version > index64 else { continue }
                        index64 = version
                        versions.record(gateway: index, version: version)
                        try? await client.acknowledge(version: version, hash: hash)
                    }
                }
            }
            try await waitFor { versions.allAbove(0) }
            var samples: [Double] = []
            for round in 0..<rounds {
                try await Task.sleep(for: .milliseconds(500))
                let floor = versions.minimum()
                versions.startRound()
                let started = ContinuousClock.now
                _ = try await admin.request(.PATCH, "/v1/clusters/g0", json: ClusterUpdate(gatewayAddress: "10.9.\(round).1:15443"), as: Cluster.self)
                try await waitFor { versions.allAbove(floor) }
                samples += versions.arrivals().map { milliseconds($0 - started) }
            }
            group.cancelAll()
            let tableBytes = try await admin.send(.GET, "/v1/routes/g1").body.count
            return Result(gateways: count, samples: samples, baselineMs: baseline.sorted()[baseline.count / 2], tableBytes: tableBytes)
        }
        for client in clients { try? await client.shutdown() }
        try? await admin.shutdown()
        await launcher.stopAll()
        return result
    }

    func waitFor(timeout: Duration = .seconds(120), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { throw DemoError("timed out waiting for the gateways") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

/// The table version each simulated gateway holds, and when it got it.
final class VersionBoard: Sendable {
    private struct State {
        var versions: [Int64]
        var arrivals: [ContinuousClock.Instant?]
    }
    private let state: Mutex<State>

    init(count: Int) { state = Mutex(State(versions: Array(repeating: 0, count: count), arrivals: Array(repeating: nil, count: count))) }

    func record(gateway: Int, version: Int64) {
        let now = ContinuousClock.now
        state.withLock {
            $0.versions[gateway] = version
            if $0.arrivals[gateway] == nil { $0.arrivals[gateway] = now }
        }
    }
    func startRound() { state.withLock { $0.arrivals = Array(repeating: nil, count: $0.arrivals.count) } }
    func minimum() -> Int64 { state.withLock { $0.versions.min() ?? 0 } }
    func allAbove(_ floor: Int64) -> Bool { state.withLock { $0.versions.allSatisfy { $0 > floor } } }
    func arrivals() -> [ContinuousClock.Instant] { state.withLock { $0.arrivals.compactMap { $0 } } }
}
