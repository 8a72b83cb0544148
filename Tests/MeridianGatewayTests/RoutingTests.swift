import MeridianModel
import NIOCore
import Testing

@testable import MeridianGateway

@Suite("Routing choice")
struct RoutingTests {
    @Test("smooth weighted round-robin interleaves by weight")
    func smoothRoundRobin() {
        var rotation = SmoothWeightedRoundRobin(count: 3)
        let picks = (0..<7).compactMap { _ in rotation.next(weights: [5, 1, 1]) }
        #expect(picks == [0, 0, 1, 0, 2, 0, 0])
        var counts = [0, 0, 0]
        for _ in 0..<700 { counts[rotation.next(weights: [5, 1, 1])!] += 1 }
        #expect(counts == [500, 100, 100])
        #expect(rotation.next(weights: [0, 0, 0]) == nil)
    }

    let levels = [
        PriorityLevel(destinations: [WeightedDestination(cluster: "a", weight: 0.75), WeightedDestination(cluster: "b", weight: 0.25)]),
        PriorityLevel(destinations: [WeightedDestination(cluster: "c", weight: 1)]),
    ]

    @Test("P0 while any of its destinations is available, by weight")
    func primaryLevel() {
        var rotation = RouteRotation()
        var counts: [String: Int] = [:]
        for _ in 0..<400 {
            let choice = rotation.choose(levels: levels) { _ in 1 }!
            #expect(choice.level == 0)
            #expect(choice.reason == "primary")
            counts[choice.cluster, default: 0] += 1
        }
        #expect(counts == ["a": 300, "b": 100])
        // One P0 destination ejected: the other takes all of P0.
        let onlyB = rotation.choose(levels: levels) { $0 == "a" ? nil : 1 }
        #expect(onlyB?.cluster == "b")
    }

    @Test("every P0 destination ejected: traffic moves to P1")
    func failover() {
        var rotation = RouteRotation()
        let choice = rotation.choose(levels: levels) { $0 == "c" ? 1 : nil }
        #expect(choice == RouteChoice(cluster: "c", level: 1, reason: "failover"))
        // Tried destinations are skipped the same way (a retry).
        let retry = rotation.choose(levels: levels, excluding: ["a", "b"]) { _ in 1 }
        #expect(retry?.cluster == "c")
        #expect(rotation.choose(levels: levels, excluding: ["a", "b", "c"]) { _ in 1 } == nil)
    }

    @Test("tried names: the first inline, the rest after it, all found")
    func triedNames() {
        var tried = TriedNames()
        #expect(tried.isEmpty && !tried.contains(""))
        tried.append("a")
        #expect(!tried.isEmpty && tried.contains("a") && !tried.contains("b"))
        tried.append("b")
        tried.append("c")
        #expect(tried.contains("a") && tried.contains("b") && tried.contains("c") && !tried.contains("d"))
        #expect(tried == ["a", "b", "c"])
    }

    @Test("nothing available: panic mode still tries a destination the table allows")
    func panic() {
        var rotation = RouteRotation()
        let choice = rotation.choose(levels: levels) { _ in nil }
        #expect(choice?.reason == "panic")
        #expect(choice?.level == 0)
    }

    @Test("slow start weights a returning destination down")
    func slowStartWeights() {
        var rotation = RouteRotation()
        var counts: [String: Int] = [:]
        for _ in 0..<1000 {
            counts[rotation.choose(levels: levels) { $0 == "a" ? 0.1 : 1 }!.cluster, default: 0] += 1
        }
        // a: 0.75 * 0.1 = 0.075 against b: 0.25.
        #expect(counts["a"]! < counts["b"]!)
    }

    @Test("the compiled table drops destinations that residency forbids")
    func compiledTableResidency() {
        let policy = ResidencyPolicy(classes: ["eu-only": DataClassPolicy(name: "eu-only", rules: [ResidencyRule(allow: JurisdictionSet(blocs: ["EU"]))])])
        let table = RoutingTable(
            source: "east", local: PeerGateway(cluster: "east", address: "127.0.0.1:1", jurisdiction: Jurisdiction(country: "DE", blocs: ["EU"])),
            peers: [PeerGateway(cluster: "paris", address: "127.0.0.1:2", jurisdiction: Jurisdiction(country: "FR", blocs: ["EU"])),
                    PeerGateway(cluster: "ohio", address: "127.0.0.1:3", jurisdiction: Jurisdiction(country: "US"))],
            entries: [RouteEntry(service: "chat", dataClass: "eu-only", levels: [
                PriorityLevel(destinations: [WeightedDestination(cluster: "ohio", weight: 1)]),
                PriorityLevel(destinations: [WeightedDestination(cluster: "paris", weight: 1)]),
            ])],
            policy: policy)
        let route = CompiledTable(table).route(RouteKey(service: "chat", dataClass: "eu-only"))!
        #expect(route.forbidden == ["ohio"])
        #expect(route.levels.map { $0.destinations.map(\.cluster) } == [["paris"]])
    }

    @Test("a service's entry answers as the policy and the routes do: its default class, its routes by class (only classes the policy defines), its callers")
    func compiledServices() {
        let policy = ResidencyPolicy(
            classes: ["public": DataClassPolicy(name: "public", rules: [ResidencyRule(allow: .everywhere)])],
            services: ["chat": ServicePolicy(defaultClass: "public", allowedCallers: ["west"]), "quiet": ServicePolicy(allowedCallers: ["*"])],
            defaultClass: nil)
        let levels = [PriorityLevel(destinations: [WeightedDestination(cluster: "west", weight: 1)])]
        let table = RoutingTable(
            source: "east", local: PeerGateway(cluster: "east", address: "127.0.0.1:1", jurisdiction: Jurisdiction(country: "DE", blocs: ["EU"])),
            peers: [PeerGateway(cluster: "west", address: "127.0.0.1:2", jurisdiction: Jurisdiction(country: "FR", blocs: ["EU"]))],
            entries: [RouteEntry(service: "chat", dataClass: "public", levels: levels), RouteEntry(service: "chat", dataClass: "undefined", levels: levels),
                      RouteEntry(service: "embed", dataClass: "public", levels: levels)],
            policy: policy)
        let compiled = CompiledTable(table)
        #expect(Set(compiled.services.keys) == ["chat", "quiet", "embed"])
        for (name, service) in compiled.services {
            #expect(service.defaultClass == policy.defaultClass(forService: name), "\(name)")
            for caller in ["west", "east", "ohio"] {
                #expect(service.allowsCaller(caller) == policy.allowsCaller(caller, service: name), "\(name) \(caller)")
            }
            for dataClass in ["public", "undefined", "absent"] {
                let expected = policy.classes[dataClass] == nil ? nil : compiled.route(RouteKey(service: name, dataClass: dataClass))
                #expect(service.route(dataClass) === expected, "\(name) \(dataClass)")
            }
        }
        #expect(compiled.services["chat"]?.route("public") != nil)
    }
}

@Suite("Outlier ejection and retry budget")
struct ResilienceTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    @Test("five consecutive failures eject for 10 s, doubling on the next ejection")
    func passiveEjection() {
        var detector = OutlierDetector()
        for _ in 0..<4 { #expect(detector.recordFailure(at: start) == .none) }
        detector.recordSuccess(at: start)
        for _ in 0..<4 { #expect(detector.recordFailure(at: start) == .none) }
        guard case .ejected = detector.recordFailure(at: start) else {
            Issue.record("not ejected after 5 failures")
            return
        }
        #expect(detector.isEjected(at: start + .seconds(9)))
        #expect(!detector.isEjected(at: start + .seconds(10)))
        // Back with reduced weight, then full.
        #expect(detector.availability(at: start + .seconds(11))! < 0.5)
        #expect(detector.availability(at: start + .seconds(21)) == 1)
        let second = start + .seconds(30)
        for _ in 0..<4 { _ = detector.recordFailure(at: second) }
        _ = detector.recordFailure(at: second)
        #expect(detector.isEjected(at: second + .seconds(19)))
        #expect(!detector.isEjected(at: second + .seconds(20)))
    }

    @Test("a destination's record, as the data plane reads it: nothing on record reads available; failures eject through the same reads, a success on record counts, a reset forgets, a probe records again")
    func destinationHealthCells() {
        let start = NIODeadline.now()   // (some reads below take the clock)
        let health = DestinationHealth(settings: OutlierDetector.Settings())
        let west = health.cell("west")
        let local = health.cell(DestinationHealth.localKey(address: "127.0.0.1:9000"))
        #expect(health.availability(west) == 1 && !health.isEjected(west))
        health.recordSuccess(west)   // nothing on record: nothing to count
        for _ in 0..<4 { health.recordFailure(west, at: start) }
        health.recordSuccess(west, at: start)   // on record now: breaks the run of failures
        for _ in 0..<4 { health.recordFailure(west, at: start) }
        #expect(!health.isEjected(west, at: start + .seconds(1)), "four failures after a success do not eject")
        health.recordFailure(west, at: start)
        #expect(health.isEjected(west, at: start + .seconds(1)))
        #expect(health.availability(west, at: start + .seconds(1)) == nil)
        #expect(health.isEjected(west), "read with the clock, within the ejection")
        #expect(health.isEjected("west"), "by name, as the control loops read it")
        for _ in 0..<5 { health.recordFailure(local, at: start) }
        health.retain(only: [])   // a new table without west; local endpoints keep their records
        #expect(!health.isEjected(west, at: start + .seconds(1)) && health.availability(west, at: start + .seconds(1)) == 1)
        #expect(health.isEjected(local, at: start + .seconds(1)))
        _ = health.recordProbe("west", rtt: nil, at: start)
        _ = health.recordProbe("west", rtt: nil, at: start)
        _ = health.recordProbe("west", rtt: nil, at: start)
        #expect(health.isEjected(west, at: start + .seconds(1)), "three failed probes on record again")
    }

    @Test("three failed probes eject at once; a good probe restores")
    func probeEjection() {
        var detector = OutlierDetector()
        #expect(detector.recordProbe(success: false, at: start) == .none)
        #expect(detector.recordProbe(success: false, at: start) == .none)
        guard case .ejected = detector.recordProbe(success: false, at: start) else {
            Issue.record("not ejected after 3 probes")
            return
        }
        #expect(detector.isEjected(at: start + .seconds(3600)))
        #expect(detector.recordProbe(success: true, at: start + .seconds(5)) == .restored)
        #expect(detector.availability(at: start + .seconds(5))! <= 0.1)
        #expect(detector.availability(at: start + .seconds(10))! > 0.4)
        #expect(detector.availability(at: start + .seconds(15)) == 1)
    }

    @Test("retry budget: 20 % of requests plus 3 per second")
    func retryBudget() {
        var budget = RetryBudget(ratio: 0.2, minimumPerSecond: 3)
        for _ in 0..<10 { budget.recordRequest(at: start) }
        var allowed = 0
        for _ in 0..<20 where budget.tryAcquireRetry(at: start) { allowed += 1 }
        #expect(allowed == 5)   // 0.2 * 10 + 3
        // A second later half the old window still counts.
        let later = start + .milliseconds(1500)
        for _ in 0..<10 { budget.recordRequest(at: later) }
        var more = 0
        for _ in 0..<20 where budget.tryAcquireRetry(at: later) { more += 1 }
        #expect(more >= 1 && more <= 4)
        // Long idle: the budget is back to the floor.
        let idle = start + .seconds(10)
        var floor = 0
        for _ in 0..<20 where budget.tryAcquireRetry(at: idle) { floor += 1 }
        #expect(floor == 3)
    }
}
