import Foundation
import MeridianModel
import Testing
@testable import MeridianRouting

/// Properties of the router over thousands of random topologies, policies and preferences (seeded, so every
/// run sees the same cases; a failure message names the seed).
@Suite("Router properties")
struct RouterPropertyTests {
    static let router = Router()

    /// How many cases each property checks, times `MERIDIAN_PROPERTY_SCALE` (default 1: about 1,500 random
    /// topologies in all, a few seconds in a debug build; set it to 10 for a longer soak).
    static let scale: Int = {
        let text = ProcessInfo.processInfo.environment["MERIDIAN_PROPERTY_SCALE"] ?? "1"
        return max(1, Int(text) ?? 1)
    }()

    static func cases(_ count: Int) -> Int { count * scale }

    /// Records an issue when `condition` fails; cheaper than `#expect` in the tight loops of a property.
    func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
               sourceLocation: SourceLocation = #_sourceLocation) {
        if !condition() { Issue.record(Comment(rawValue: message()), sourceLocation: sourceLocation) }
    }

    /// One random case: its seed, its snapshot, and the tables compiled from it.
    struct Case: Sendable {
        var seed: UInt64
        var snapshot: RoutingSnapshot
        var tables: [String: RoutingTable]
    }

    /// The shared corpus: random topologies, policies and preferences, each compiled once and then checked by
    /// every invariant below (compiling is what costs in a debug build).
    static let corpus: [Case] = (UInt64(1_000)..<UInt64(1_000 + cases(800))).map { seed in
        var generator = TopologyGenerator(seed: seed)
        let snapshot = generator.snapshot(maxClusters: 9)
        return Case(seed: seed, snapshot: snapshot, tables: router.compile(snapshot))
    }

    /// Checks `body` over the corpus.
    func forAll(_ body: (RoutingSnapshot, [String: RoutingTable], UInt64) -> Void) {
        for item in Self.corpus { body(item.snapshot, item.tables, item.seed) }
    }

    /// Checks `body` over `count` fresh random snapshots.
    func forAll(_ count: Int, seed: UInt64, maxClusters: Int = 10, _ body: (RoutingSnapshot, UInt64) -> Void) {
        for offset in 0..<UInt64(count) {
            var generator = TopologyGenerator(seed: seed &+ offset)
            body(generator.snapshot(maxClusters: maxClusters), seed &+ offset)
        }
    }

    @Test("no entry names a destination outside its class's allowed jurisdictions for the origin")
    func residencyIsAHardFilter() {
        forAll { snapshot, tables, seed in
            for (source, table) in tables {
                let origin = snapshot.cluster(source)!.region.jurisdiction
                for entry in table.entries {
                    for destination in entry.allDestinations {
                        let jurisdiction = snapshot.cluster(destination)!.region.jurisdiction
                        check(snapshot.policy.permits(dataClass: entry.dataClass, origin: origin, destination: jurisdiction),
                                "seed \(seed): \(source) \(entry.service)/\(entry.dataClass) -> \(destination)")
                        check(snapshot.policy.allowsCaller(source, service: entry.service), "seed \(seed)")
                    }
                }
            }
        }
    }

    @Test("every level is non-empty, every weight positive, and a level's weights sum to 1")
    func weightsSumToOne() {
        forAll { _, tables, seed in
            for table in tables.values {
                for entry in table.entries {
                    check((entry.refusal == nil) == !entry.levels.isEmpty, "seed \(seed)")
                    for level in entry.levels {
                        check(!level.destinations.isEmpty, "seed \(seed)")
                        check(level.destinations.allSatisfy { $0.weight > 0 && $0.weight <= 1 }, "seed \(seed)")
                        let sum = level.destinations.reduce(0) { $0 + $1.weight }
                        check(abs(sum - 1) <= 1e-9, "seed \(seed): \(table.source) \(entry.service)/\(entry.dataClass) sums to \(sum)")
                    }
                    check(Set(entry.allDestinations).count == entry.allDestinations.count, "a destination appears once: seed \(seed)")
                }
            }
        }
    }

    @Test("one entry per (exported service, class), sorted; every other cluster is a peer")
    func tablesAreComplete() {
        forAll { snapshot, tables, seed in
            check(Set(tables.keys) == Set(snapshot.clusters.map(\.name)), "seed \(seed)")
            let services = Set(snapshot.clusters.flatMap { $0.services.keys })
            let expected = services.sorted().flatMap { service in snapshot.policy.classes.keys.sorted().map { "\(service)/\($0)" } }
            for (source, table) in tables {
                check(table.entries.map { "\($0.service)/\($0.dataClass)" } == expected, "seed \(seed)")
                check(table.peers.map(\.cluster) == snapshot.clusters.map(\.name).filter { $0 != source }.sorted(), "seed \(seed)")
                check(table.local.cluster == source, "local")
                check(table.version == 0, "version")
                check(table.hash == table.contentHash(), "hash")
            }
        }
    }

    @Test("same snapshot, in any order: identical tables and hashes")
    func deterministic() {
        forAll(Self.cases(120), seed: 4_000) { snapshot, seed in
            let first = Self.router.compile(snapshot)
            let second = Self.router.compile(snapshot)
            var rng = SplitMix64(seed: seed)
            var shuffled = snapshot
            shuffled.clusters.shuffle(using: &rng)
            shuffled.revokedSerials.shuffle(using: &rng)
            // Rebuild every dictionary so that its storage order differs.
            shuffled.clusters = shuffled.clusters.map { cluster in
                var copy = cluster
                copy.services = Dictionary(uniqueKeysWithValues: cluster.services.shuffled(using: &rng).map { ($0.key, $0.value) })
                return copy
            }
            shuffled.measuredRTT = Dictionary(uniqueKeysWithValues: snapshot.measuredRTT.shuffled(using: &rng).map { ($0.key, $0.value) })
            let third = Self.router.compile(shuffled)
            check(first == second, "seed \(seed)")
            check(first == third, "seed \(seed)")
            check(first.mapValues(\.hash) == third.mapValues(\.hash), "seed \(seed)")
            if let table = first.values.min(by: { $0.source < $1.source }) {
                check(Self.router.table(for: table.source, in: shuffled) == table, "seed \(seed)")
            }
        }
    }

    @Test("no allowed candidate means a refusal (451), never a spill; no available one means 503")
    func refusalNeverSpill() {
        forAll { snapshot, tables, seed in
            for (source, table) in tables {
                let origin = snapshot.cluster(source)!.region.jurisdiction
                for entry in table.entries {
                    let exporters = snapshot.clusters.filter { $0.services[entry.service] != nil }
                    let allowed = exporters.filter {
                        snapshot.policy.permits(dataClass: entry.dataClass, origin: origin, destination: $0.region.jurisdiction)
                    }
                    let available = allowed.filter { $0.healthy && $0.services[entry.service]?.healthyEndpoints != 0 }
                    if !snapshot.policy.allowsCaller(source, service: entry.service) {
                        check(entry.refusal?.status == 403 && entry.levels.isEmpty, "seed \(seed)")
                    } else if allowed.isEmpty {
                        check(entry.refusal?.status == 451 && entry.levels.isEmpty, "seed \(seed): \(source) \(entry.service)/\(entry.dataClass)")
                    } else if available.isEmpty {
                        check(entry.refusal?.status == 503 && entry.levels.isEmpty, "seed \(seed)")
                    } else {
                        check(entry.refusal == nil, "seed \(seed)")
                        check(Set(entry.allDestinations).isSubset(of: Set(available.map(\.name))), "seed \(seed)")
                    }
                }
            }
        }
    }

    /// The axes on which a clone of a cluster is made strictly better.
    enum Axis: CaseIterable { case price, rtt, gpus, load }

    @Test("a candidate better on one axis and equal on the rest never gets less weight", arguments: Axis.allCases)
    func monotone(axis: Axis) {
        forAll(Self.cases(80), seed: 6_000 + UInt64(Axis.allCases.firstIndex(of: axis)!) * 10_000, maxClusters: 8) { snapshot, seed in
            var rng = SplitMix64(seed: seed ^ 0xABCD)
            var snapshot = snapshot
            // The worse twin W and the better twin B: the same region, the same services, better on one axis.
            var worse = rng.pick(snapshot.clusters)
            worse.name = "twin-worse"
            worse.healthy = true
            worse.pricePerGPUHour = worse.pricePerGPUHour ?? 3
            for key in worse.services.keys { worse.services[key]!.healthyEndpoints = 2 }
            var better = worse
            better.name = "twin-better"
            let sources = snapshot.clusters.map(\.name)
            switch axis {
            case .price:
                better.pricePerGPUHour = worse.pricePerGPUHour! * Double.random(in: 0.2...0.95, using: &rng)
            case .gpus:
                better.allocatableGPUs = worse.allocatableGPUs + Int.random(in: 1...64, using: &rng)
            case .load:
                worse.gpuUtilization = worse.gpuUtilization ?? 0.5
                better.gpuUtilization = worse.gpuUtilization! * Double.random(in: 0...0.95, using: &rng)
                for key in worse.services.keys {
                    better.services[key]!.queueDepth = (worse.services[key]!.queueDepth * Double.random(in: 0...0.9, using: &rng)).rounded(.down)
                    better.services[key]!.kvCacheUtilization = worse.services[key]!.kvCacheUtilization * Double.random(in: 0...0.95, using: &rng)
                }
            case .rtt:
                for source in sources {
                    let rtt = Double.random(in: 2...200, using: &rng)
                    snapshot.measuredRTT[source, default: [:]]["twin-worse"] = rtt
                    snapshot.measuredRTT[source, default: [:]]["twin-better"] = rtt * Double.random(in: 0.1...0.95, using: &rng)
                }
            }
            if axis != .rtt {
                for source in sources {
                    if let measured = snapshot.measuredRTT[source]?["twin-worse"] { snapshot.measuredRTT[source]!["twin-better"] = measured }
                }
            }
            snapshot.clusters += [worse, better]
            for (source, table) in Self.router.compile(snapshot) where !source.hasPrefix("twin-") {
                for entry in table.entries {
                    let place = { (name: String) -> (level: Int, weight: Double)? in
                        for (level, priority) in entry.levels.enumerated() {
                            if let destination = priority.destinations.first(where: { $0.cluster == name }) { return (level, destination.weight) }
                        }
                        return nil
                    }
                    guard let w = place("twin-worse") else { continue }
                    guard let b = place("twin-better") else {
                        Issue.record("seed \(seed) \(axis): the better twin is missing from \(source) \(entry.service)/\(entry.dataClass)")
                        continue
                    }
                    check(b.level <= w.level, "seed \(seed) \(axis): \(source) \(entry.service)/\(entry.dataClass)")
                    if b.level == w.level {
                        check(b.weight >= w.weight - 1e-5, "seed \(seed) \(axis): \(b.weight) < \(w.weight)")
                    }
                }
            }
        }
    }

    @Test("incremental updates equal a full compile, and report exactly the sources that changed")
    func incrementalEqualsFull() {
        for seed in UInt64(7_000)..<UInt64(7_000 + Self.cases(30)) {
            var generator = TopologyGenerator(seed: seed)
            var snapshot = generator.snapshot(maxClusters: 10)
            var incremental = IncrementalRouter()
            var previous = incremental.update(snapshot).tables
            check(previous == Self.router.compile(snapshot), "seed \(seed) first")
            for step in 0..<8 {
                snapshot = mutate(snapshot, generator: &generator)
                let (tables, changed) = incremental.update(snapshot)
                let full = Self.router.compile(snapshot)
                check(tables == full, "seed \(seed) step \(step)")
                let expected = Set(full.keys.filter { previous[$0]?.hash != full[$0]!.hash })
                    .union(previous.keys.filter { full[$0] == nil })
                check(changed == expected, "seed \(seed) step \(step)")
                previous = tables
            }
        }
    }

    /// One random change: a cluster's state, a cluster added or removed, RTTs, policy, preferences, serials.
    func mutate(_ snapshot: RoutingSnapshot, generator: inout TopologyGenerator) -> RoutingSnapshot {
        var snapshot = snapshot
        let choice = Int.random(in: 0..<100, using: &generator.rng)
        let index = Int.random(in: 0..<snapshot.clusters.count, using: &generator.rng)
        switch choice {
        case 0..<40:
            var cluster = snapshot.clusters[index]
            switch Int.random(in: 0..<6, using: &generator.rng) {
            case 0: cluster.healthy.toggle()
            case 1: cluster.pricePerGPUHour = Double.random(in: 0.5...8, using: &generator.rng)
            case 2: cluster.gpuUtilization = Double.random(in: 0...1, using: &generator.rng)
            case 3: if let key = cluster.services.keys.sorted().first { cluster.services[key] = generator.serviceState() }
            case 4: cluster.services[generator.rng.pick(TopologyGenerator.servicePool)] = generator.serviceState()
            default: if cluster.services.count > 1, let key = cluster.services.keys.sorted().last { cluster.services[key] = nil }
            }
            snapshot.clusters[index] = cluster
        case 40..<50:
            snapshot.clusters[index].region = generator.rng.pick(TestRegions.all)
        case 50..<55:
            snapshot.clusters[index].gatewayAddress = "10.9.9.\(index):15443"
        case 55..<65:
            snapshot.clusters.append(generator.cluster(100 + Int.random(in: 0..<1_000, using: &generator.rng)))
            var seen = Set<String>()
            snapshot.clusters = snapshot.clusters.filter { seen.insert($0.name).inserted }
        case 65..<72:
            if snapshot.clusters.count > 1 { snapshot.clusters.remove(at: index) }
        case 72..<82:
            let from = snapshot.clusters[index].name
            let to = generator.rng.pick(snapshot.clusters).name
            snapshot.measuredRTT[from, default: [:]][to] = Double.random(in: 1...200, using: &generator.rng)
        case 82..<88:
            snapshot.policy = generator.policy()
        case 88..<93:
            snapshot.preferences = generator.preferences()
        case 93..<97:
            snapshot.revokedSerials.append("serial-\(choice)")
        default:
            snapshot.clusters[index].allocatableGPUs += 8
        }
        return snapshot
    }
}
