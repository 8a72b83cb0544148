import Foundation
import MeridianModel
import Testing
@testable import MeridianRouting

/// Unit tests of the router's edges: refusal statuses, explanations, weights, the hasher, diffs, incremental runs.
@Suite("Router")
struct RouterTests {
    static let router = Router()
    typealias Examples = WorkedExamplesTests

    @Test("weights: proportional, six decimals, remainder to the largest, sum exactly 1 within 1e-9")
    func normalizedWeights() {
        #expect(Router.normalizedWeights([1, 1, 1]).reduce(0, +) == 1)
        let weights = Router.normalizedWeights([0.8, 0.04, 0.02])
        #expect(weights == [0.930232, 0.046512, 0.023256])
        #expect(Router.normalizedWeights([1e-12, 1]).first == 0.000_001)
        #expect(Router.normalizedWeights([0, 0]) == [0.5, 0.5])
        for count in 1...40 {
            let scores = (0..<count).map { Double($0 % 7) + 0.1 / Double($0 + 1) }
            #expect(abs(Router.normalizedWeights(scores).reduce(0, +) - 1) <= 1e-9)
        }
    }

    @Test("a service that does not allow the source's cluster is refused with 403")
    func callerNotAllowed() {
        var mesh = Examples.mesh()
        mesh.policy.services["chat"] = ServicePolicy(allowedCallers: ["par"])
        #expect(Self.router.table(for: "fra", in: mesh)!.entry(service: "chat", dataClass: "public")!.refusal?.status == 403)
        #expect(Self.router.table(for: "par", in: mesh)!.entry(service: "chat", dataClass: "public")!.refusal == nil)
        let explanation = Self.router.explain(source: "fra", service: "chat", dataClass: "public", in: mesh)
        #expect(explanation.candidates.allSatisfy { $0.verdict == .dropped })
    }

    @Test("a class the policy lacks, a service nobody exports, an unknown source")
    func unknowns() {
        let mesh = Examples.mesh()
        #expect(Self.router.explain(source: "fra", service: "chat", dataClass: "nope", in: mesh).entry.refusal?.status == 451)
        #expect(Self.router.explain(source: "fra", service: "ghost", dataClass: "public", in: mesh).entry.refusal?.status == 503)
        #expect(Self.router.explain(source: "ghost", service: "chat", dataClass: "public", in: mesh).entry.refusal?.status == 404)
        #expect(Self.router.table(for: "ghost", in: mesh) == nil)
    }

    @Test("no healthy endpoint counts as unavailable")
    func noEndpoints() {
        var mesh = Examples.mesh()
        mesh.clusters[3].services["embed"]?.healthyEndpoints = 0
        #expect(Self.router.table(for: "fra", in: mesh)!.entry(service: "embed", dataClass: "public")!.refusal?.status == 503)
        let explanation = Self.router.explain(source: "fra", service: "embed", dataClass: "public", in: mesh)
        #expect(explanation.candidates[0].reasons.contains { $0.contains("no healthy endpoint") })
    }

    @Test("an explanation agrees with the table, round-trips through JSON and renders every candidate")
    func explanation() throws {
        let mesh = Examples.mesh()
        let explanation = Self.router.explain(source: "fra", service: "chat", dataClass: "eu-personal", in: mesh)
        #expect(explanation.entry == Self.router.table(for: "fra", in: mesh)!.entry(service: "chat", dataClass: "eu-personal"))
        #expect(explanation.candidates.map(\.cluster) == ["fra", "iad", "par", "sto"])
        #expect(explanation.candidates.map(\.verdict) == [.kept, .dropped, .kept, .kept])
        #expect(explanation.candidates[2].rttSource == .measured && explanation.candidates[0].rttSource == .estimated)
        #expect(explanation.candidates[2].band == "regional" && explanation.candidates[0].band == "local")
        let decoded = try JSONDecoder().decode(RouteExplanation.self, from: JSONEncoder().encode(explanation))
        #expect(decoded == explanation)
        let text = explanation.render()
        #expect(text.contains("P0  fra 1.000000"))
        #expect(text.contains("P1  par 0.631579, sto 0.368421"))
        #expect(text.contains("residency is a hard filter"))
        #expect(text.contains("RTT 10.0 ms (measured by probes), band regional"))
    }

    @Test("unknown prices are scored as the dearest known price and never demoted by the ceiling")
    func unknownPrice() {
        var mesh = Examples.mesh()
        mesh.clusters[1].pricePerGPUHour = nil // par
        let levels = Examples.levels(mesh, from: "fra", "batch", "public")
        // par scored at $3.00 (fra's): 8 / 3 against iad 32 / 1.8 and sto 8 / 2.
        #expect(levels.count == 2)
        #expect(abs(levels[0]["par"]! - (8.0 / 3) / (8.0 / 3 + 32 / 1.8 + 4)) < 1e-6)
    }

    @Test("the hasher agrees with RoutingTable.contentHash and canonicalJSON, also with escapes, unicode and odd numbers")
    func hasher() throws {
        let peers = ["a/b", "b\"q", "c\u{1}", "d\\", "é"].map {
            PeerGateway(cluster: $0, address: "\($0):1\n", jurisdiction: Jurisdiction(country: "DE", blocs: ["EU", "EEA"]))
        }
        let entries = [
            RouteEntry(service: "s/1", dataClass: "c\t", levels: [PriorityLevel(destinations: [
                WeightedDestination(cluster: "x", weight: 1e-06), WeightedDestination(cluster: "y", weight: 0.999999)])]),
            RouteEntry(service: "s2", dataClass: "c", levels: [], refusal: RouteRefusal(status: 451, reason: "no \"way\" / none"),
                       timeoutSeconds: 12.5),
        ]
        let policy = Examples.policy
        let hasher = RoutingTableHasher(policy: policy, peers: peers)
        for omitted in peers.indices {
            var others = peers
            let local = others.remove(at: omitted)
            let table = RoutingTable(source: local.cluster, local: local, peers: others, entries: entries, policy: policy,
                                     revokedSerials: ["01", "a/2"], trustBundlePEM: omitted % 2 == 0 ? "-----BEGIN\n" : nil)
            #expect(hasher.hash(table) == table.hash)
            var published = table
            published.version = 41 + Int64(omitted)
            #expect(try hasher.canonicalJSON(published) == Array(published.canonicalJSON()), "the stored body is the canonical JSON")
        }
        let stranger = RoutingTable(source: "z", local: peers[0], peers: [peers[1]], entries: [], policy: .permissive)
        #expect(hasher.hash(stranger) == stranger.hash)
    }

    @Test("a one-cluster change recomputes the entries of its services and reports only the tables that changed")
    func incremental() {
        var mesh = Examples.mesh()
        var incremental = IncrementalRouter()
        let first = incremental.update(mesh)
        #expect(first.changedSources == ["fra", "iad", "par", "sto"])
        #expect(incremental.update(mesh).changedSources.isEmpty)
        mesh.clusters[2].services["chat"]?.queueDepth = 40 // sto
        let second = incremental.update(mesh)
        #expect(second.tables == Self.router.compile(mesh))
        // sto's own table does not change: from sto, chat (latency) goes to sto alone in P0, whatever its load.
        #expect(second.changedSources == ["fra", "iad", "par"])
        // A change to a service nobody routes to from anywhere changes no table: iad's embed load, with embed's
        // saturation limits unset.
        mesh.preferences.services["embed"] = RoutingPreference(saturation: SaturationLimits())
        _ = incremental.update(mesh)
        mesh.clusters[3].services["embed"]?.queueDepth = 5
        #expect(incremental.update(mesh).changedSources.isEmpty)
    }

    @Test("a route diff lists changed entries and new refusals, and renders them")
    func diff() throws {
        let before = Self.router.compile(Examples.mesh())
        let after = Self.router.compile(Examples.mesh(iadHealthy: false))
        let diff = RouteDiff(old: before, new: after)
        #expect(!diff.isEmpty)
        #expect(diff.newRefusals.map { "\($0.source) \($0.service)/\($0.dataClass)" }.contains("fra embed/public"))
        #expect(diff.changes.contains { $0.kind == .changed && $0.source == "fra" && $0.service == "chat" && $0.dataClass == "public" })
        #expect(!diff.changes.contains { $0.service == "chat" && $0.dataClass == "eu-personal" && $0.source == "fra" })
        #expect(RouteDiff(old: before, new: before).isEmpty)
        #expect(RouteDiff(old: before, new: before).render() == "no route changes")
        let text = diff.render()
        #expect(text.contains("fra embed/public: becomes a refusal"))
        #expect(text.contains("before: P0 iad 1.000000"))
        let decoded = try JSONDecoder().decode(RouteDiff.self, from: JSONEncoder().encode(diff))
        #expect(decoded == diff)
        var incremental = IncrementalRouter()
        _ = incremental.update(Examples.mesh())
        #expect(incremental.preview(Examples.mesh(iadHealthy: false)) == diff)
        #expect(incremental.snapshot == Examples.mesh())
    }
}
