import Foundation
import MeridianClient
import MeridianModel
import MeridianRouting
import NIOHTTP1

/// The scripted story `meridian demo` tells: clusters join, traffic of several data classes lands where policy
/// and cost say, a price change moves cost-optimised traffic, a cluster dies and traffic fails over (EU data
/// staying in the EU), the cluster comes back, and the hub itself goes away while traffic keeps flowing.
public struct DemoStory: Sendable {
    let launcher: MeshLauncher
    let say: @Sendable (String) -> Void

    public init(launcher: MeshLauncher, say: @escaping @Sendable (String) -> Void) {
        self.launcher = launcher
        self.say = say
    }

    func gateway(_ cluster: String) -> String {
        "\(launcher.topology.cluster(cluster)!.address):\(DemoPorts.local)"
    }

    func heading(_ text: String) {
        say("")
        say("== \(text) " + String(repeating: "=", count: max(0, 74 - text.count)))
    }

    /// Runs the whole story.
    public func run() async throws {
        let traffic = TrafficClient()
        defer { Task { try? await traffic.shutdown() } }
        let clock = ContinuousClock()

        heading("1. A hub on an embedded PostgreSQL")
        let hubStarted = clock.now
        try await launcher.startHub()
        say("hub up at \(launcher.hubURL) in \(format(clock.now - hubStarted)) (PostgreSQL started from the system's binaries)")

        heading("2. Platform team registers four clusters; compliance applies residency policy")
        try await launcher.registerAll()
        let admin = try launcher.adminClient()
        defer { Task { try? await admin.shutdown() } }
        for cluster in launcher.topology.clusters {
            let record = try await admin.cluster(cluster.name)
            say("  \(pad(cluster.name, 4)) \(pad(cluster.region, 18)) \(pad(record.jurisdiction.description, 14)) gateway \(record.gatewayAddress)  runs \(cluster.services.joined(separator: ", "))")
        }
        say("  prices: regions/prices-sample.csv (SkyPilot catalog format); policies: policies/residency.yaml, policies/routing.yaml")

        heading("3. Each cluster's gateway joins with a one-time token (mTLS, SPIFFE identity)")
        let joinStarted = clock.now
        for cluster in launcher.topology.clusters { try await launcher.startCluster(cluster.name) }
        try await launcher.waitUntilConverged()
        say("  all four gateways joined, reported GPU inventory and applied their routing tables in \(format(clock.now - joinStarted))")
        for cluster in launcher.topology.clusters {
            say("  \(cluster.name): spiffe://meridian.local/cluster/\(cluster.name)/gateway")
        }

        heading("4. Traffic of several data classes: where it lands, and why")
        let scenarios: [(String, String, String?, String)] = [
            ("fra", "llama-3-70b", "public", "public data may go anywhere; fra serves it locally"),
            ("bom", "triage-assistant", "eu-personal", "EU personal data from Mumbai must be processed in the EU"),
            ("iad", "llama-3-70b", "us-phi", "US health data stays in the US"),
            ("bom", "batch-embedder", nil, "the service's default class is origin-bound: Indian data stays in India"),
            ("bom", "triage-assistant", "in-personal", "Indian personal data, but no Indian cluster runs triage-assistant"),
        ]
        for (from, service, dataClass, why) in scenarios {
            let outcomes = await burst(traffic, from: from, service: service, dataClass: dataClass, count: 12)
            say("  from \(from): \(service) [\(dataClass ?? "default class")] -> \(tally(outcomes))")
            say("      \(why)")
            if let explanation = try? await explain(admin, from: from, service: service, dataClass: dataClass) { say("      route: \(explanation)") }
        }

        heading("5. A price change moves cost-optimised traffic")
        let before = await burst(traffic, from: "iad", service: "batch-embedder", dataClass: "public", count: 16)
        say("  batch-embedder (objective: cost) from iad [public]: \(tally(before))")
        let favourite = mostServed(before) ?? "iad"
        let table = try await admin.raw(.GET, "/v1/routes/iad")
        let versionBefore = (try? JSONDecoder().decode(RoutingTable.self, from: table).version) ?? 0
        _ = try await admin.upsertPrices([GPUPrice(cluster: favourite, gpuModel: "H100", onDemandPerHour: 40, spotPerHour: nil, currency: "USD",
                                                   effectiveFrom: Date().addingTimeInterval(-1), source: "demo-price-change"),
                                          GPUPrice(cluster: favourite, gpuModel: "A100", onDemandPerHour: 40, spotPerHour: nil, currency: "USD",
                                                   effectiveFrom: Date().addingTimeInterval(-1), source: "demo-price-change")])
        say("  \(favourite)'s GPUs now cost $40/GPU-hour (was list price)")
        try await launcher.waitUntil("iad applies a new table", timeout: .seconds(10), process: nil) {
            let status = try await admin.request(.GET, "/v1/clusters/iad/config-status", as: ConfigStatus.self)
            return (status.appliedVersion ?? 0) > versionBefore
        }
        let after = await burst(traffic, from: "iad", service: "batch-embedder", dataClass: "public", count: 16)
        say("  batch-embedder from iad [public] now: \(tally(after))")

        heading("6. A cluster dies: failover in the data plane, EU data stays in the EU")
        let victim = "sto"
        say("  steady traffic from iad to triage-assistant [eu-personal] (allowed: fra, sto) and llama-3-70b [public]")
        let report = try await failover(traffic, from: "iad", victim: victim)
        say(report)

        heading("7. The cluster comes back")
        let restoreStarted = clock.now
        try await launcher.startGateway(victim)
        try await launcher.waitUntilConverged([victim])
        let back = await burst(traffic, from: "iad", service: "triage-assistant", dataClass: "eu-personal", count: 16)
        say("  \(victim) rejoined with the certificate it kept on disk, up again in \(format(clock.now - restoreStarted)); traffic: \(tally(back))")

        heading("8. The hub goes away; gateways keep routing on their last table")
        await launcher.stopHub()
        let withoutHub = await burst(traffic, from: "fra", service: "triage-assistant", dataClass: "eu-personal", count: 12)
        say("  hub stopped; from fra: triage-assistant [eu-personal] -> \(tally(withoutHub))")
        try await launcher.startHub(fresh: false)
        try await launcher.waitUntilConverged()
        say("  hub restarted on the same PostgreSQL data; every cluster reconnected")
    }

    // MARK: - Traffic helpers

    func burst(_ traffic: TrafficClient, from: String, service: String, dataClass: String?, count: Int, concurrency: Int = 4) async -> [TrafficClient.Outcome] {
        await withTaskGroup(of: [TrafficClient.Outcome].self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var outcomes: [TrafficClient.Outcome] = []
                    for _ in stride(from: worker, to: count, by: concurrency) {
                        outcomes.append(await traffic.chat(gateway: gateway(from), service: service, dataClass: dataClass))
                    }
                    return outcomes
                }
            }
            var all: [TrafficClient.Outcome] = []
            for await outcomes in group { all += outcomes }
            return all
        }
    }

    func tally(_ outcomes: [TrafficClient.Outcome]) -> String {
        var served: [String: Int] = [:]
        var refused: [Int: Int] = [:]
        var failed = 0
        for outcome in outcomes {
            if outcome.succeeded, let cluster = outcome.servedBy { served[cluster, default: 0] += 1 }
            else if outcome.status >= 400 { refused[outcome.status, default: 0] += 1 }
            else { failed += 1 }
        }
        var parts = served.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.key) \($0.value)" }
        parts += refused.sorted { $0.key < $1.key }.map { "refused \($0.key) x\($0.value)" }
        if failed > 0 { parts.append("failed \(failed)") }
        let ttfts = outcomes.compactMap { outcome in outcome.firstByteAt.map { $0 - outcome.startedAt } }.sorted()
        let median = ttfts.isEmpty ? "" : ", median time to first token \(format(ttfts[ttfts.count / 2]))"
        return parts.joined(separator: ", ") + median
    }

    func mostServed(_ outcomes: [TrafficClient.Outcome]) -> String? {
        var served: [String: Int] = [:]
        for outcome in outcomes where outcome.succeeded { if let cluster = outcome.servedBy { served[cluster, default: 0] += 1 } }
        return served.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key
    }

    func explain(_ admin: HubClient, from: String, service: String, dataClass: String?) async throws -> String {
        let data = try await admin.raw(.GET, "/v1/routes/explain" + HubClient.query([("from", from), ("service", service), ("class", dataClass)]))
        let explanation = try JSONDecoder().decode(RouteExplanation.self, from: data)
        if let refusal = explanation.entry.refusal { return "refused \(refusal.status): \(refusal.reason)" }
        let levels = explanation.entry.levels.enumerated().map { index, level in
            "P\(index) " + level.destinations.map { "\($0.cluster) \(Int(($0.weight * 100).rounded()))%" }.joined(separator: " ")
        }
        let dropped = explanation.candidates.filter { $0.verdict == .dropped }.map { "\($0.cluster) dropped (\($0.reasons.first ?? ""))" }
        return (levels + dropped).joined(separator: "; ")
    }

    /// Steady traffic from `from`; kills `victim`'s gateway; reports failed requests, time to move, and residency.
    func failover(_ traffic: TrafficClient, from: String, victim: String) async throws -> String {
        let clock = ContinuousClock()
        let started = clock.now
        let killAt = started + .seconds(3)
        let stopAt = killAt + .seconds(5)
        let outcomes = await withTaskGroup(of: [(String, TrafficClient.Outcome)].self) { group in
            for worker in 0..<6 {
                group.addTask {
                    var results: [(String, TrafficClient.Outcome)] = []
                    let (service, dataClass) = worker % 2 == 0 ? ("triage-assistant", "eu-personal") : ("llama-3-70b", "public")
                    while clock.now < stopAt {
                        results.append((dataClass, await traffic.chat(gateway: gateway(from), service: service, dataClass: dataClass, stream: false)))
                    }
                    return results
                }
            }
            group.addTask {
                try? await Task.sleep(until: killAt)
                launcher.killGateway(victim)
                return []
            }
            var all: [(String, TrafficClient.Outcome)] = []
            for await results in group { all += results }
            return all
        }
        let afterKill = outcomes.filter { $0.1.startedAt >= killAt || $0.1.finishedAt >= killAt }
        let failed = afterKill.filter { !$0.1.succeeded }
        let lastOnVictimOrFailed = afterKill.filter { !$0.1.succeeded || $0.1.servedBy == victim }.map(\.1.finishedAt).max()
        let moved = lastOnVictimOrFailed.map { $0 - killAt } ?? .zero
        let euOutside = outcomes.filter { $0.0 == "eu-personal" && $0.1.succeeded && !["fra", "sto"].contains($0.1.servedBy ?? "") }
        let afterTally = tally(outcomes.filter { $0.1.startedAt >= killAt + .seconds(1) }.map(\.1))
        return """
              killed \(victim)'s gateway (SIGKILL) with \(outcomes.count) requests in the window
              requests that failed after the kill: \(failed.count) of \(afterKill.count) (in flight on \(victim) when it died)
              time until all traffic had moved: \(format(moved))
              eu-personal requests answered outside the EU: \(euOutside.count)
              traffic a second after the kill: \(afterTally)
            """
    }

    func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
}

func format(_ duration: Duration) -> String {
    let ms = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    return ms < 1000 ? String(format: "%.0f ms", ms) : String(format: "%.2f s", ms / 1000)
}
