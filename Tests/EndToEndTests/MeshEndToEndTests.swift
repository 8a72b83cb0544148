import Foundation
import MeridianClient
import MeridianDemo
import MeridianModel
import NIOHTTP1
import Testing

/// The demo's topology, driven for real: a hub process on its embedded PostgreSQL, four gateway processes that
/// join with one-time tokens, fake model servers speaking OpenAI-style SSE, and a client calling through the
/// gateways over loopback. One scenario, in the order a platform team lives it.
@Suite("End to end", .serialized)
struct MeshEndToEndTests {
    static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        return FileManager.default.currentDirectoryPath
    }()

    static func executable() throws -> String {
        for configuration in ["debug", "release"] {
            let path = repositoryRoot + "/.build/\(configuration)/meridian"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw DemoError("the meridian executable is not built; run swift build first")
    }

    /// Runs `body` with a launcher of the demo's topology (addresses from 127.0.0.`firstAddress`) and a traffic
    /// client, and stops every process it started however `body` ends.
    static func withMesh(_ name: String, firstAddress: Int, hubPort: Int, configure: (inout MeshLauncher.Configuration) -> Void = { _ in },
                         _ body: (MeshLauncher, TrafficClient) async throws -> Void) async throws {
        var configuration = MeshLauncher.Configuration(
            executable: try executable(), repositoryRoot: repositoryRoot,
            workDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("meridian-e2e-\(name)-\(getpid())").path)
        configuration.hubPort = hubPort
        configuration.timeToFirstTokenMs = 80
        configuration.tokenIntervalMs = 60
        configuration.tokens = 10
        configure(&configuration)
        let topology = try DemoTopology(yaml: String(contentsOfFile: repositoryRoot + "/regions/demo-topology.yaml", encoding: .utf8),
                                        firstAddress: firstAddress)
        let mesh = MeshLauncher(configuration: configuration, topology: topology)
        let traffic = TrafficClient()
        do {
            try await body(mesh, traffic)
        } catch {
            await mesh.stopAll()
            try? await traffic.shutdown()
            throw error
        }
        await mesh.stopAll()
        try? await traffic.shutdown()
    }

    static let eu: Set<String> = ["fra", "sto"]

    @Test("join, route by residency, stream without buffering, fail over, survive the hub", .timeLimit(.minutes(5)))
    func scenario() async throws {
        try await Self.withMesh("scenario", firstAddress: 31, hubPort: 28443, run)
    }

    func gateway(_ mesh: MeshLauncher, _ cluster: String) -> String {
        "\(mesh.topology.cluster(cluster)!.address):\(DemoPorts.local)"
    }

    func run(_ mesh: MeshLauncher, _ traffic: TrafficClient) async throws {
        // Join: every gateway joins with a one-time token and applies its table.
        try await mesh.startHub()
        try await mesh.registerAll()
        for cluster in mesh.topology.clusters { try await mesh.startCluster(cluster.name) }
        try await mesh.waitUntilConverged(timeout: .seconds(90))
        // Each gateway started itself again with glibc's per-thread cache sized for it (MallocTuning), and runs so:
        // the environment its executable started with has the tunable (unless this process set one: that stands).
        #if os(Linux)
        for cluster in mesh.topology.clusters where ProcessInfo.processInfo.environment["GLIBC_TUNABLES"] == nil {
            let pid = try #require(mesh.process("gateway-\(cluster.name)")?.pid)
            let environment = try String(contentsOfFile: "/proc/\(pid)/environ", encoding: .utf8).split(separator: "\0")
            #expect(environment.contains("GLIBC_TUNABLES=glibc.malloc.tcache_count=127"), "gateway-\(cluster.name)")
        }
        #endif
        // Converged means every table published was applied; the hub publishes once more when the model servers'
        // first health reports arrive (until then an EU cluster may count as having no healthy endpoint: 503). Wait
        // for a route to serve before checking where the routes go.
        try await mesh.waitUntil("bom routes eu-personal", timeout: .seconds(30), process: nil) {
            let first = await traffic.chat(gateway: gateway(mesh, "bom"), service: "triage-assistant", dataClass: "eu-personal", stream: false)
            if first.succeeded { #expect(Self.eu.contains(first.servedBy ?? ""), "eu-personal served by \(first.servedBy ?? "nobody")") }
            return first.succeeded
        }

        // Route: residency decides where each class may go.
        for _ in 0..<8 {
            let eu = await traffic.chat(gateway: gateway(mesh, "bom"), service: "triage-assistant", dataClass: "eu-personal")
            #expect(eu.succeeded, "eu-personal from bom failed: \(eu.status) \(eu.error ?? "")")
            #expect(Self.eu.contains(eu.servedBy ?? ""), "eu-personal served by \(eu.servedBy ?? "nobody")")
            let phi = await traffic.chat(gateway: gateway(mesh, "iad"), service: "llama-3-70b", dataClass: "us-phi", stream: false)
            #expect(phi.servedBy == "iad")
        }
        let refused = await traffic.chat(gateway: gateway(mesh, "bom"), service: "triage-assistant", dataClass: "in-personal", stream: false)
        #expect(refused.status == 451)
        let refusalBody = refused.events.map(\.1).joined()
        #expect(refusalBody.contains("\"error\""), "a refusal carries the JSON error body: \(refusalBody)")
        let unknownClass = await traffic.chat(gateway: gateway(mesh, "fra"), service: "llama-3-70b", dataClass: "no-such-class", stream: false)
        #expect(unknownClass.status == 400 || unknownClass.status == 451, "unknown class: \(unknownClass.status)")

        // Streaming: the first token reaches the client before the model has produced the last one, locally and
        // through the mTLS tunnel (bom has no triage-assistant: its requests cross to the EU).
        for (from, service, dataClass) in [("fra", "llama-3-70b", "public"), ("bom", "triage-assistant", "eu-personal")] {
            let stream = await traffic.chat(gateway: gateway(mesh, from), service: service, dataClass: dataClass)
            #expect(stream.succeeded)
            #expect(stream.events.count >= 10, "expected every token event, got \(stream.events.count)")
            let produced = stream.events.compactMap { Self.producedAt($0.1) }
            let lastProduced = try #require(produced.last)
            let firstArrived = try #require(stream.firstEventWallClock).timeIntervalSince1970
            #expect(firstArrived < lastProduced, "\(from) -> \(service): first event arrived \(firstArrived), last produced \(lastProduced): buffered")
            #expect(lastProduced - firstArrived > 0.3)
        }

        // Failover: steady traffic from iad; sto's gateway dies; traffic leaves it at once, EU data stays in the EU.
        let report = try await failover(mesh, traffic, from: "iad", victim: "sto")
        #expect(report.euOutside == 0, "eu-personal answered outside the EU \(report.euOutside) times")
        #expect(report.retryableFailures == 0, "retryable requests failed after the kill: \(report.retryableFailures)")
        #expect(report.timeToMove < .seconds(1), "traffic took \(report.timeToMove) to move")
        #expect(report.servedAfterByVictim == 0)
        print("failover: \(report)")
        let admin = try mesh.adminClient()
        try await mesh.waitUntil("the hub marks sto down", timeout: .seconds(15), process: nil) {
            try await admin.cluster("sto").status == .down
        }
        let events = try await admin.audit(action: "cluster.down", objectName: "sto").items
        #expect(!events.isEmpty, "cluster.down is audited")

        // Restore: sto rejoins with the certificate it kept on disk; traffic returns.
        try await mesh.startGateway("sto", join: false)
        try await mesh.waitUntilConverged(["sto"])
        var servedBySto = 0
        for _ in 0..<16 where await traffic.chat(gateway: gateway(mesh, "iad"), service: "triage-assistant", dataClass: "eu-personal", stream: false).servedBy == "sto" {
            servedBySto += 1
        }
        #expect(servedBySto > 0, "sto takes traffic again")
        try? await admin.shutdown()

        // The hub gone: traffic flows on the last tables, and gateways still fail over on their own probes.
        await mesh.stopHub(kill: true)
        let withoutHub = await traffic.chat(gateway: gateway(mesh, "bom"), service: "triage-assistant", dataClass: "eu-personal", stream: false)
        #expect(withoutHub.succeeded && Self.eu.contains(withoutHub.servedBy ?? ""))
        let noHubFailover = try await failover(mesh, traffic, from: "iad", victim: "fra")
        #expect(noHubFailover.euOutside == 0)
        #expect(noHubFailover.retryableFailures == 0)
        #expect(noHubFailover.timeToMove < .seconds(1), "without a hub traffic took \(noHubFailover.timeToMove) to move")
        // A gateway restarted with no hub at all routes on the table it kept on disk.
        try await mesh.startGateway("fra", join: false)
        try await mesh.waitUntil("fra serves again without a hub", timeout: .seconds(20), process: mesh.process("gateway-fra")) {
            await traffic.chat(gateway: gateway(mesh, "fra"), service: "llama-3-70b", dataClass: "public", stream: false).succeeded
        }

        // The hub restarts on its data: every object is there and every cluster reconnects.
        try await mesh.startHub(fresh: false)
        try await mesh.waitUntilConverged(timeout: .seconds(60))
        let after = try mesh.adminClient()
        #expect(try await after.clusters().items.map(\.name) == ["bom", "fra", "iad", "sto"])
        try? await after.shutdown()
    }

    struct FailoverReport: CustomStringConvertible {
        var requests: Int
        var failedAfterKill: Int
        var retryableFailures: Int
        var timeToMove: Duration
        var euOutside: Int
        var servedAfterByVictim: Int
        /// The failed requests: retryable or not, status, error, and when they started relative to the kill.
        var failures: [String] = []
        var description: String {
            "\(requests) requests, \(failedAfterKill) failed after the kill (\(retryableFailures) retryable), moved in \(timeToMove), \(euOutside) EU requests outside the EU"
                + (failures.isEmpty ? "" : "; failed: \(failures.joined(separator: "; "))")
        }
    }

    /// Steady traffic (half eu-personal, retryable; half public, not) from `from`; SIGKILLs `victim`'s gateway.
    func failover(_ mesh: MeshLauncher, _ traffic: TrafficClient, from: String, victim: String) async throws -> FailoverReport {
        let clock = ContinuousClock()
        let killAt = clock.now + .seconds(2)
        let stopAt = killAt + .seconds(4)
        let target = gateway(mesh, from)
        let outcomes = await withTaskGroup(of: [(Bool, TrafficClient.Outcome)].self) { group in
            for worker in 0..<6 {
                group.addTask {
                    var results: [(Bool, TrafficClient.Outcome)] = []
                    let retryable = worker % 2 == 0
                    while clock.now < stopAt {
                        let outcome = retryable
                            ? await traffic.chat(gateway: target, service: "triage-assistant", dataClass: "eu-personal", stream: false, retryable: true)
                            : await traffic.chat(gateway: target, service: "llama-3-70b", dataClass: "public", stream: false)
                        results.append((retryable, outcome))
                    }
                    return results
                }
            }
            group.addTask {
                try? await Task.sleep(until: killAt)
                mesh.killGateway(victim)
                return []
            }
            var all: [(Bool, TrafficClient.Outcome)] = []
            for await results in group { all += results }
            return all
        }
        let afterKill = outcomes.filter { $0.1.finishedAt >= killAt }
        let failed = afterKill.filter { !$0.1.succeeded }
        let lastBad = afterKill.filter { !$0.1.succeeded || $0.1.servedBy == victim }.map(\.1.finishedAt).max()
        let euOutside = outcomes.filter { $0.0 && $0.1.succeeded && !Self.eu.contains($0.1.servedBy ?? "") }.count
        let servedLater = outcomes.filter { $0.1.startedAt >= killAt + .seconds(1) && $0.1.servedBy == victim }.count
        let failures = failed.map { retryable, outcome in
            "\(retryable ? "retryable" : "not retryable") \(outcome.status) \(outcome.error ?? "") started \(outcome.startedAt - killAt) after the kill, took \(outcome.finishedAt - outcome.startedAt)"
        }
        return FailoverReport(requests: outcomes.count, failedAfterKill: failed.count, retryableFailures: failed.filter(\.0).count,
                              timeToMove: lastBad.map { $0 - killAt } ?? .zero, euOutside: euOutside, servedAfterByVictim: servedLater,
                              failures: failures)
    }

    static func producedAt(_ event: String) -> Double? {
        guard let data = event.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return object["produced_at"] as? Double
    }
}
