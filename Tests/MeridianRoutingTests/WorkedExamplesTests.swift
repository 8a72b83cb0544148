import MeridianModel
import Testing
@testable import MeridianRouting

/// The worked examples of `docs/routing.md`, one test each: the levels and weights asserted here are the ones
/// the document shows. Change one, change the other.
@Suite("Worked examples (docs/routing.md)")
struct WorkedExamplesTests {
    static let router = Router()

    // MARK: - The topology shared by examples 1-4

    static let policy = ResidencyPolicy(
        name: "examples",
        classes: [
            "public": DataClassPolicy(name: "public", rules: [ResidencyRule(allow: .everywhere)]),
            "eu-personal": DataClassPolicy(name: "eu-personal", rules: [ResidencyRule(allow: JurisdictionSet(blocs: ["EU"]))]),
            "us-phi": DataClassPolicy(name: "us-phi", rules: [ResidencyRule(allow: JurisdictionSet(countries: ["US"]))]),
        ],
        defaultClass: "public")

    static func cluster(_ name: String, _ region: Region, gpus: Int, price: Double?, gpu: Double? = nil,
                        services: [String: ServiceState], healthy: Bool = true) -> ClusterState {
        ClusterState(name: name, region: region, gatewayAddress: "\(name).example:15443", healthy: healthy, gpuUtilization: gpu,
                     allocatableGPUs: gpus, pricePerGPUHour: price, services: services)
    }

    /// fra (Frankfurt), par (Paris), sto (Stockholm), iad (N. Virginia); RTTs from fra measured by its probes.
    static func mesh(iadHealthy: Bool = true, stoQueue: Double = 8, parQueue: Double = 16, fraQueue: Double = 32) -> RoutingSnapshot {
        RoutingSnapshot(
            clusters: [
                cluster("fra", TestRegions.frankfurt, gpus: 16, price: 3.00,
                        services: ["chat": ServiceState(queueDepth: fraQueue), "batch": ServiceState()]),
                cluster("par", TestRegions.paris, gpus: 8, price: 2.50,
                        services: ["chat": ServiceState(queueDepth: parQueue), "batch": ServiceState()]),
                cluster("sto", TestRegions.stockholm, gpus: 8, price: 2.00,
                        services: ["chat": ServiceState(queueDepth: stoQueue), "batch": ServiceState()]),
                cluster("iad", TestRegions.virginia, gpus: 32, price: 1.80,
                        services: ["chat": ServiceState(), "batch": ServiceState(), "embed": ServiceState()], healthy: iadHealthy),
            ],
            policy: policy,
            preferences: RoutingPreferences(services: [
                "chat": RoutingPreference(objective: .latency),
                "batch": RoutingPreference(objective: .cost, priceCeilingPerGPUHour: 2.60),
            ]),
            measuredRTT: ["fra": ["par": 10, "sto": 20, "iad": 90]])
    }

    /// Levels of an entry as `[[cluster: weight]]`.
    static func levels(_ snapshot: RoutingSnapshot, from source: String, _ service: String, _ dataClass: String) -> [[String: Double]] {
        let entry = router.table(for: source, in: snapshot)!.entry(service: service, dataClass: dataClass)!
        return entry.levels.map { Dictionary(uniqueKeysWithValues: $0.destinations.map { ($0.cluster, $0.weight) }) }
    }

    static func refusal(_ snapshot: RoutingSnapshot, from source: String, _ service: String, _ dataClass: String) -> RouteRefusal? {
        router.table(for: source, in: snapshot)!.entry(service: service, dataClass: dataClass)!.refusal
    }

    /// Example 5: fra, ams (Amsterdam) and iad; no measured RTT; `chat` balanced with a 60 ms latency SLO.
    static func balancedMesh() -> RoutingSnapshot {
        RoutingSnapshot(
            clusters: [
                cluster("fra", TestRegions.frankfurt, gpus: 16, price: 3.00, services: ["chat": ServiceState(queueDepth: 32)]),
                cluster("ams", TestRegions.amsterdam, gpus: 16, price: 2.00, services: ["chat": ServiceState(queueDepth: 16)]),
                cluster("iad", TestRegions.virginia, gpus: 32, price: 1.50, services: ["chat": ServiceState()]),
            ],
            policy: policy,
            preferences: RoutingPreferences(services: ["chat": RoutingPreference(objective: .balanced, latencySLOMs: 60)]))
    }

    /// Example 6: data that stays where it comes from; `embed` in fra, iad and gru (São Paulo).
    static func originMesh() -> RoutingSnapshot {
        let originBound = DataClassPolicy(name: "origin-bound", rules: [
            ResidencyRule(from: JurisdictionSet(blocs: ["EU"]), allow: JurisdictionSet(blocs: ["EU"])),
            ResidencyRule(from: JurisdictionSet(countries: ["US"]), allow: JurisdictionSet(countries: ["US"])),
            ResidencyRule(from: .everywhere, allow: .everywhere),
        ])
        return RoutingSnapshot(
            clusters: [
                cluster("fra", TestRegions.frankfurt, gpus: 16, price: 3.00, services: ["embed": ServiceState()]),
                cluster("iad", TestRegions.virginia, gpus: 32, price: 1.80, services: ["embed": ServiceState()]),
                cluster("gru", TestRegions.saoPaulo, gpus: 8, price: 2.40, services: ["embed": ServiceState()]),
            ],
            policy: ResidencyPolicy(name: "origin", classes: ["origin-bound": originBound]),
            preferences: RoutingPreferences(services: ["embed": RoutingPreference(objective: .cost)]))
    }

    /// Asserts that `actual` has the levels of `expected`, weights equal within 1e-9.
    static func expectLevels(_ actual: [[String: Double]], _ expected: [[String: Double]],
                             sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.map { Set($0.keys) } == expected.map { Set($0.keys) }, sourceLocation: sourceLocation)
        for (level, weights) in zip(actual, expected) {
            for (cluster, weight) in weights {
                #expect(abs((level[cluster] ?? -1) - weight) < 1e-9, "\(cluster): \(level[cluster] ?? -1) != \(weight)",
                        sourceLocation: sourceLocation)
            }
        }
    }

    @Test("1. EU personal data, latency: the local cluster first, then the EU neighbours by headroom over RTT")
    func example1() {
        let mesh = Self.mesh()
        Self.expectLevels(Self.levels(mesh, from: "fra", "chat", "eu-personal"), [
            ["fra": 1],
            ["par": 0.631579, "sto": 0.368421],
        ])
        Self.expectLevels(Self.levels(mesh, from: "fra", "chat", "public"), [
            ["fra": 1],
            ["par": 0.631579, "sto": 0.368421],
            ["iad": 1],
        ])
    }

    @Test("2. Residency decides first: far away if it must, refused if nowhere (451), 503 when all allowed are down")
    func example2() {
        Self.expectLevels(Self.levels(Self.mesh(), from: "fra", "chat", "us-phi"), [["iad": 1]])
        #expect(Self.refusal(Self.mesh(), from: "fra", "embed", "eu-personal")?.status == 451)
        #expect(Self.refusal(Self.mesh(), from: "fra", "embed", "public") == nil)
        #expect(Self.refusal(Self.mesh(iadHealthy: false), from: "fra", "embed", "public")?.status == 503)
        // Down, iad is gone from every level; it stays a peer (gateways keep probing it).
        let table = Self.router.table(for: "fra", in: Self.mesh(iadHealthy: false))!
        #expect(table.entries.allSatisfy { !$0.allDestinations.contains("iad") })
        #expect(table.peers.map(\.cluster) == ["iad", "par", "sto"])
    }

    @Test("3. Cost objective with a price ceiling: cheapest capacity first, the dear local cluster demoted")
    func example3() {
        Self.expectLevels(Self.levels(Self.mesh(), from: "fra", "batch", "public"), [
            ["iad": 0.711744, "par": 0.128114, "sto": 0.160142],
            ["fra": 1],
        ])
        let explanation = Self.router.explain(source: "fra", service: "batch", dataClass: "public", in: Self.mesh())
        #expect(explanation.candidates.first { $0.cluster == "fra" }?.verdict == .demoted)
    }

    @Test("4. Saturation: a saturated cluster is dropped; when all are saturated they share one level")
    func example4() {
        Self.expectLevels(Self.levels(Self.mesh(stoQueue: 70), from: "fra", "chat", "eu-personal"), [
            ["fra": 1],
            ["par": 1],
        ])
        Self.expectLevels(Self.levels(Self.mesh(stoQueue: 70, parQueue: 64, fraQueue: 80), from: "fra", "chat", "eu-personal"), [
            ["fra": 0.930232, "par": 0.046512, "sto": 0.023256],
        ])
    }

    @Test("5. Balanced with estimated RTTs and a latency SLO: near clusters share P0, the far one is demoted")
    func example5() {
        let mesh = Self.balancedMesh()
        let rtt = TestRegions.frankfurt.estimatedRTTMilliseconds(to: TestRegions.amsterdam)
        #expect(abs(rtt - 7.45) < 0.01)
        Self.expectLevels(Self.levels(mesh, from: "fra", "chat", "public"), [
            ["fra": 0.597726, "ams": 0.402274],
            ["iad": 1],
        ])
        let explanation = Self.router.explain(source: "fra", service: "chat", dataClass: "public", in: mesh)
        #expect(explanation.candidates.first { $0.cluster == "iad" }?.verdict == .demoted)
        #expect(explanation.candidates.allSatisfy { $0.rttSource == .estimated })
    }

    @Test("6. Origin-dependent rules: EU data stays in the EU, US data in the US, the rest goes anywhere")
    func example6() {
        let mesh = Self.originMesh()
        Self.expectLevels(Self.levels(mesh, from: "fra", "embed", "origin-bound"), [["fra": 1]])
        Self.expectLevels(Self.levels(mesh, from: "iad", "embed", "origin-bound"), [["iad": 1]])
        Self.expectLevels(Self.levels(mesh, from: "gru", "embed", "origin-bound"), [
            ["fra": 0.201681, "gru": 0.126050, "iad": 0.672269],
        ])
    }
}
