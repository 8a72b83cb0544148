import MeridianModel

/// SplitMix64: a seeded generator, so that every run routes the same mesh.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A synthetic mesh for the router benchmark: `clusters` clusters spread over 20 real regions, `services`
/// services each exported by `exportersPerService` clusters, and a policy of four data classes.
struct BenchmarkTopology {
    var clusters: Int
    var services = 200
    var exportersPerService = 20
    var seed: UInt64 = 42

    static let regions: [Region] = [
        ("aws-eu-central-1", "DE", 50.11, 8.68, ["EU", "EEA"]), ("aws-eu-north-1", "SE", 59.33, 18.07, ["EU", "EEA"]),
        ("aws-eu-west-3", "FR", 48.86, 2.35, ["EU", "EEA"]), ("aws-eu-west-1", "IE", 53.35, -6.26, ["EU", "EEA"]),
        ("azure-westeurope", "NL", 52.37, 4.90, ["EU", "EEA"]), ("gcp-europe-north1", "FI", 60.57, 27.19, ["EU", "EEA"]),
        ("azure-norwayeast", "NO", 59.91, 10.75, ["EEA", "EFTA"]), ("gcp-europe-west6", "CH", 47.38, 8.54, ["EFTA"]),
        ("aws-eu-west-2", "GB", 51.51, -0.13, ["FIVE_EYES"]), ("aws-us-east-1", "US", 39.04, -77.49, ["FIVE_EYES"]),
        ("aws-us-east-2", "US", 39.96, -83.00, ["FIVE_EYES"]), ("aws-us-west-2", "US", 45.84, -119.70, ["FIVE_EYES"]),
        ("gcp-us-central1", "US", 41.26, -95.86, ["FIVE_EYES"]), ("aws-ca-central-1", "CA", 45.50, -73.57, ["FIVE_EYES"]),
        ("aws-ap-south-1", "IN", 19.08, 72.88, ["APAC"]), ("aws-ap-northeast-1", "JP", 35.68, 139.65, ["APAC"]),
        ("gcp-asia-southeast1", "SG", 1.35, 103.82, ["APAC"]), ("aws-ap-southeast-2", "AU", -33.87, 151.21, ["FIVE_EYES", "APAC"]),
        ("aws-sa-east-1", "BR", -23.55, -46.63, []), ("azure-japaneast", "JP", 35.68, 139.65, ["APAC"]),
    ].map { id, country, latitude, longitude, blocs in
        Region(id: id, provider: String(id.prefix { $0 != "-" }), providerRegion: id, name: id, city: id, country: country,
               latitude: latitude, longitude: longitude, blocs: blocs)
    }

    static let policy = ResidencyPolicy(
        name: "benchmark",
        classes: [
            "public": DataClassPolicy(name: "public", rules: [ResidencyRule(allow: .everywhere)]),
            "eu-personal": DataClassPolicy(name: "eu-personal", rules: [ResidencyRule(allow: JurisdictionSet(blocs: ["EU"]))]),
            "us-phi": DataClassPolicy(name: "us-phi", rules: [ResidencyRule(allow: JurisdictionSet(countries: ["US"]))]),
            "origin-bound": DataClassPolicy(name: "origin-bound", rules: [
                ResidencyRule(from: JurisdictionSet(blocs: ["EEA"]), allow: JurisdictionSet(blocs: ["EEA"])),
                ResidencyRule(from: JurisdictionSet(blocs: ["FIVE_EYES"]), allow: JurisdictionSet(blocs: ["FIVE_EYES"]),
                              deny: JurisdictionSet(countries: ["AU"])),
                ResidencyRule(from: .everywhere, allow: .everywhere),
            ]),
        ],
        defaultClass: "public")

    func serviceName(_ index: Int) -> String { "svc-\(index)" }
    func clusterName(_ index: Int) -> String { "c-\(index)" }

    /// The snapshot: every cluster healthy, loads and prices drawn at random.
    func snapshot() -> RoutingSnapshot {
        var rng = SplitMix64(seed: seed)
        var exports = [[String: ServiceState]](repeating: [:], count: clusters)
        for service in 0..<services {
            var chosen = Set<Int>()
            while chosen.count < min(exportersPerService, clusters) { chosen.insert(Int.random(in: 0..<clusters, using: &rng)) }
            for cluster in chosen.sorted() {
                exports[cluster][serviceName(service)] = ServiceState(queueDepth: Double(Int.random(in: 0...40, using: &rng)),
                                                                      kvCacheUtilization: Double.random(in: 0...0.9, using: &rng),
                                                                      healthyEndpoints: Int.random(in: 1...4, using: &rng))
            }
        }
        let states = (0..<clusters).map { index in
            ClusterState(name: clusterName(index), region: Self.regions[Int.random(in: 0..<Self.regions.count, using: &rng)],
                         gatewayAddress: "10.\(index / 65_536).\(index / 256 % 256).\(index % 256):15443", healthy: true,
                         gpuUtilization: Double.random(in: 0...0.9, using: &rng), allocatableGPUs: Int.random(in: 8...256, using: &rng),
                         pricePerGPUHour: (Double.random(in: 0.8...4.5, using: &rng) * 100).rounded() / 100,
                         services: exports[index])
        }
        var preferences: [String: RoutingPreference] = [:]
        let objectives: [RoutingObjective] = [.latency, .balanced, .cost]
        for service in 0..<services {
            preferences[serviceName(service)] = RoutingPreference(
                objective: objectives[service % 3], latencySLOMs: service % 2 == 0 ? 120 : nil,
                priceCeilingPerGPUHour: service % 5 == 0 ? 3.5 : nil)
        }
        return RoutingSnapshot(clusters: states, policy: Self.policy, preferences: RoutingPreferences(services: preferences))
    }
}
