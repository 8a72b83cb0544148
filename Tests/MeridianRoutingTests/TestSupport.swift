import MeridianModel
@testable import MeridianRouting

/// SplitMix64: a tiny, seeded, deterministic generator, so that every property-test run sees the same topologies
/// and a failure names the seed that reproduces it.
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

extension RandomNumberGenerator {
    mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &self) < probability }
    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
    mutating func subset<T>(_ items: [T], max: Int) -> [T] {
        let count = Int.random(in: 0...Swift.min(max, items.count), using: &self)
        return Array(items.shuffled(using: &self).prefix(count))
    }
}

/// Regions used by the tests: real cities, real blocs (as in `regions/regions.yaml`).
enum TestRegions {
    static func region(_ id: String, _ country: String, _ latitude: Double, _ longitude: Double, _ blocs: [String]) -> Region {
        Region(id: id, provider: String(id.prefix { $0 != "-" }), providerRegion: String(id.drop { $0 != "-" }.dropFirst()),
               name: id, city: id, country: country, latitude: latitude, longitude: longitude, blocs: blocs)
    }

    static let frankfurt = region("aws-eu-central-1", "DE", 50.1109, 8.6821, ["EU", "EEA"])
    static let stockholm = region("aws-eu-north-1", "SE", 59.3293, 18.0686, ["EU", "EEA"])
    static let paris = region("aws-eu-west-3", "FR", 48.8566, 2.3522, ["EU", "EEA"])
    static let dublin = region("aws-eu-west-1", "IE", 53.3498, -6.2603, ["EU", "EEA"])
    static let amsterdam = region("azure-westeurope", "NL", 52.3676, 4.9041, ["EU", "EEA"])
    static let oslo = region("azure-norwayeast", "NO", 59.9139, 10.7522, ["EEA", "EFTA"])
    static let zurich = region("gcp-europe-west6", "CH", 47.3769, 8.5417, ["EFTA"])
    static let london = region("aws-eu-west-2", "GB", 51.5074, -0.1278, ["FIVE_EYES"])
    static let virginia = region("aws-us-east-1", "US", 39.0438, -77.4874, ["FIVE_EYES"])
    static let oregon = region("aws-us-west-2", "US", 45.8399, -119.7006, ["FIVE_EYES"])
    static let mumbai = region("aws-ap-south-1", "IN", 19.0760, 72.8777, ["APAC"])
    static let tokyo = region("aws-ap-northeast-1", "JP", 35.6762, 139.6503, ["APAC"])
    static let singapore = region("gcp-asia-southeast1", "SG", 1.3521, 103.8198, ["APAC"])
    static let sydney = region("aws-ap-southeast-2", "AU", -33.8688, 151.2093, ["FIVE_EYES", "APAC"])
    static let saoPaulo = region("aws-sa-east-1", "BR", -23.5505, -46.6333, [])

    static let all = [frankfurt, stockholm, paris, dublin, amsterdam, oslo, zurich, london, virginia, oregon,
                      mumbai, tokyo, singapore, sydney, saoPaulo]
}

/// Random topologies, policies and preferences for the property tests.
struct TopologyGenerator {
    static let jurisdictionPool = ["*", "EU", "EEA", "EFTA", "FIVE_EYES", "APAC", "DE", "SE", "FR", "US", "IN", "GB", "NO", "CH", "JP", "BR"]
    static let servicePool = ["chat", "embed", "rerank", "vision", "whisper", "tts"]

    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func jurisdictionSet(maxCount: Int) -> JurisdictionSet {
        let names = rng.subset(Self.jurisdictionPool, max: maxCount)
        return JurisdictionSet(any: names.contains("*"),
                               countries: names.filter { $0.count == 2 },
                               blocs: names.filter { $0.count > 2 })
    }

    mutating func policy() -> ResidencyPolicy {
        var classes: [String: DataClassPolicy] = [:]
        let names = ["public", "eu-personal", "us-phi", "origin-bound", "restricted"]
        for name in rng.subset(names, max: 4) + ["public"] {
            var rules: [ResidencyRule] = []
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                var from = jurisdictionSet(maxCount: 2)
                if from.isEmpty || rng.chance(0.3) { from = .everywhere }
                var allow = jurisdictionSet(maxCount: 3)
                if rng.chance(0.2) { allow = .everywhere }
                let deny = rng.chance(0.4) ? jurisdictionSet(maxCount: 2) : .nowhere
                rules.append(ResidencyRule(from: from, allow: allow, deny: deny))
            }
            classes[name] = DataClassPolicy(name: name, rules: rules)
        }
        var services: [String: ServicePolicy] = [:]
        for service in Self.servicePool where rng.chance(0.2) {
            services[service] = ServicePolicy(defaultClass: nil, allowedCallers: rng.chance(0.5) ? ["*"] : ["c0", "c1", "c2"])
        }
        return ResidencyPolicy(name: "random", classes: classes, services: services, defaultClass: "public")
    }

    mutating func preferences() -> RoutingPreferences {
        var services: [String: RoutingPreference] = [:]
        for service in Self.servicePool where rng.chance(0.7) {
            services[service] = RoutingPreference(
                objective: rng.pick(RoutingObjective.allCases),
                latencySLOMs: rng.chance(0.5) ? Double.random(in: 5...200, using: &rng) : nil,
                priceCeilingPerGPUHour: rng.chance(0.5) ? Double.random(in: 1...6, using: &rng) : nil,
                saturation: SaturationLimits(queueDepth: rng.chance(0.8) ? Double.random(in: 8...64, using: &rng) : nil,
                                             kvCacheUtilization: rng.chance(0.8) ? Double.random(in: 0.6...0.98, using: &rng) : nil,
                                             gpuUtilization: rng.chance(0.8) ? Double.random(in: 0.7...0.99, using: &rng) : nil),
                timeoutSeconds: rng.chance(0.5) ? 120 : nil)
        }
        return RoutingPreferences(services: services)
    }

    mutating func serviceState() -> ServiceState {
        ServiceState(queueDepth: Double(Int.random(in: 0...80, using: &rng)),
                     kvCacheUtilization: Double.random(in: 0...1, using: &rng),
                     healthyEndpoints: rng.chance(0.15) ? 0 : (rng.chance(0.5) ? nil : Int.random(in: 1...4, using: &rng)))
    }

    mutating func cluster(_ index: Int) -> ClusterState {
        var services: [String: ServiceState] = [:]
        for service in rng.subset(Self.servicePool, max: 4) { services[service] = serviceState() }
        if services.isEmpty { services[rng.pick(Self.servicePool)] = serviceState() }
        return ClusterState(name: "c\(index)", region: rng.pick(TestRegions.all), gatewayAddress: "10.0.\(index / 256).\(index % 256):15443",
                            healthy: rng.chance(0.85), gpuUtilization: rng.chance(0.7) ? Double.random(in: 0...1, using: &rng) : nil,
                            allocatableGPUs: Int.random(in: 0...64, using: &rng),
                            pricePerGPUHour: rng.chance(0.85) ? (Double.random(in: 0.5...8, using: &rng) * 100).rounded() / 100 : nil,
                            services: services)
    }

    mutating func snapshot(maxClusters: Int = 10) -> RoutingSnapshot {
        let count = Int.random(in: 1...maxClusters, using: &rng)
        let clusters = (0..<count).map { cluster($0) }
        var measured: [String: [String: Double]] = [:]
        for from in clusters where rng.chance(0.4) {
            for to in clusters where to.name != from.name && rng.chance(0.5) {
                measured[from.name, default: [:]][to.name] = Double.random(in: 0.5...250, using: &rng)
            }
        }
        return RoutingSnapshot(clusters: clusters, policy: policy(), preferences: preferences(), measuredRTT: measured,
                               revokedSerials: rng.chance(0.3) ? ["0a", "0b"] : [], trustBundlePEM: rng.chance(0.5) ? "PEM" : nil)
    }
}

extension RoutingSnapshot {
    func cluster(_ name: String) -> ClusterState? { clusters.first { $0.name == name } }
}
