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
                cluster("fra", TestRegions.frankfurt, gpus: 16, price: 3.00, gpu: 0.50,
                        services: ["chat": ServiceState(queueDepth: fraQueue), "batch": ServiceState()]),
                cluster("par", TestRegions.paris, gpus: 8, price: 2.50, gpu: 0.25,
                        services: ["chat": ServiceState(queueDepth: parQueue), "batch": ServiceState()]),
                cluster("sto", TestRegions.stockholm, gpus: 8, price: 2.00, gpu: 0.50,
                        services: ["chat": ServiceState(queueDepth: stoQueue), "batch": ServiceState()]),
                cluster("iad", TestRegions.virginia, gpus: 32, price: 1.80, gpu: 0.50,
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

    @Test("print") func printAll() {
        let m = Self.mesh()
        for (s, c) in [("chat", "eu-personal"), ("chat", "public"), ("embed", "eu-personal"), ("batch", "public")] {
            print(Self.router.explain(source: "fra", service: s, dataClass: c, in: m).render())
        }
        print(Self.router.explain(source: "fra", service: "embed", dataClass: "public", in: Self.mesh(iadHealthy: false)).render())
        print(Self.router.explain(source: "fra", service: "chat", dataClass: "eu-personal", in: Self.mesh(stoQueue: 70)).render())
        print(Self.router.explain(source: "fra", service: "chat", dataClass: "eu-personal", in: Self.mesh(stoQueue: 70, parQueue: 64, fraQueue: 80)).render())
    }
}
