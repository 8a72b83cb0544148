import MeridianModel

/// The router's working for one (source, service, data class): every candidate assessed, the entry it yields.
/// ``Router`` builds tables from it and ``RouteExplanation`` puts it in words, so the two never disagree.
struct RouteEvaluation {
    /// Why a candidate is not in the entry.
    enum Drop: Equatable {
        /// The service does not accept calls from the source cluster.
        case caller
        /// Residency: the class may not be processed in the candidate's jurisdiction for this origin.
        case jurisdiction
        /// The failure detector holds the cluster down.
        case unhealthy
        /// The cluster is up but reports no healthy endpoint for the service.
        case noEndpoints
        /// Over a saturation limit while other candidates are not.
        case saturated
    }

    /// Which saturation signal sets a candidate's load.
    enum LoadSignal: Equatable {
        case queueDepth, kvCache, gpu
    }

    /// One candidate: a cluster that exports the service.
    struct Candidate {
        let cluster: Int
        var drop: Drop?
        /// Why the candidate cannot serve at all, whatever the class: `.unhealthy` or `.noEndpoints`.
        var unavailable: Drop?
        var rttMs: Double
        var rttMeasured: Bool
        /// Price per GPU-hour as reported; nil when unknown.
        var price: Double?
        /// The price used for scoring: the reported one, or the dearest known among kept candidates, floored.
        var scoredPrice: Double = 0
        /// max(value / limit) over the service's saturation signals; nil when no limit applies.
        var load: Double?
        var loadSignal: LoadSignal?
        var saturated: Bool
        /// Allocatable GPUs, at least 1.
        var capacity: Double
        var headroom: Double = 1
        var violatesSLO = false
        var violatesCeiling = false
        var band = 0
        var score: Double = 0
        var level: Int?
        var weight: Double?
    }

    var entry: RouteEntry
    var candidates: [Candidate]
    /// Every allowed, available candidate is saturated: they are kept in one level instead of refusing.
    var allSaturated: Bool
    var preference: RoutingPreference
}

extension Router {
    /// The class-independent half of an evaluation: every exporter of `service` with its RTT from `source`,
    /// price, load and capacity. Computed once per (source, service) and shared by the classes.
    func candidates(source: Int, service: String, limits: SaturationLimits, in context: RoutingContext,
                    measuredRow: [String: Double]?) -> [RouteEvaluation.Candidate] {
        let exporters = context.exporters[service] ?? []
        var candidates: [RouteEvaluation.Candidate] = []
        candidates.reserveCapacity(exporters.count)
        for index in exporters {
            let cluster = context.clusters[index]
            let rtt = context.rtt(from: source, to: index, measuredRow: measuredRow)
            let state = cluster.services[service] ?? ServiceState()
            let (load, signal) = Self.load(of: state, in: cluster, limits: limits)
            let unavailable: RouteEvaluation.Drop? = !cluster.healthy ? .unhealthy : (state.healthyEndpoints == 0 ? .noEndpoints : nil)
            candidates.append(.init(cluster: index, unavailable: unavailable, rttMs: rtt.ms, rttMeasured: rtt.measured, price: cluster.pricePerGPUHour,
                                    load: load, loadSignal: signal, saturated: (load ?? 0) >= 1,
                                    capacity: Double(max(cluster.allocatableGPUs, 1))))
        }
        return candidates
    }

    /// Assesses every exporter of `service` for data of class `classIndex` (nil: a class the policy lacks)
    /// coming from `source`.
    func evaluate(source: Int, service: String, classIndex: Int?, className: String,
                  in context: RoutingContext, measuredRow: [String: Double]?) -> RouteEvaluation {
        let preference = context.snapshot.preferences.preference(for: service)
        return evaluate(source: source, service: service, classIndex: classIndex, className: className, in: context,
                        preference: preference,
                        candidates: candidates(source: source, service: service, limits: preference.saturation, in: context,
                                               measuredRow: measuredRow))
    }

    /// Assesses `candidates` (from ``candidates(source:service:limits:in:measuredRow:)``) for one data class.
    func evaluate(source: Int, service: String, classIndex: Int?, className: String, in context: RoutingContext,
                  preference: RoutingPreference, candidates: [RouteEvaluation.Candidate]) -> RouteEvaluation {
        let snapshot = context.snapshot
        let origin = context.jurisdictionOfCluster[source]
        let timeout = preference.timeoutSeconds ?? configuration.defaultTimeoutSeconds
        var candidates = candidates

        func refusal(_ status: Int, _ reason: String) -> RouteEvaluation {
            RouteEvaluation(entry: RouteEntry(service: service, dataClass: className, levels: [],
                                              refusal: RouteRefusal(status: status, reason: reason), timeoutSeconds: timeout),
                            candidates: candidates, allSaturated: false, preference: preference)
        }

        if candidates.isEmpty {
            return refusal(503, "no cluster exports service '\(service)'")
        }
        // 0. Authorization: the destination would answer 403 anyway; the source refuses up front.
        let sourceName = context.clusters[source].name
        if !snapshot.policy.allowsCaller(sourceName, service: service) {
            for i in candidates.indices { candidates[i].drop = .caller }
            return refusal(403, "service '\(service)' does not accept calls from cluster '\(sourceName)' (services.\(service).allowedCallers)")
        }
        // 1. Residency, a hard filter, before anything else.
        for i in candidates.indices {
            let destination = context.jurisdictionOfCluster[candidates[i].cluster]
            if let classIndex, context.permits[classIndex][origin][destination] { continue }
            candidates[i].drop = .jurisdiction
        }
        guard candidates.contains(where: { $0.drop == nil }) else {
            if classIndex == nil {
                return refusal(451, "data class '\(className)' is not defined by policy '\(snapshot.policy.name)'")
            }
            return refusal(451, "data class '\(className)' from \(context.jurisdictions[origin]) may not be processed in the jurisdiction of any cluster exporting '\(service)'")
        }
        // 2. Health.
        for i in candidates.indices where candidates[i].drop == nil && candidates[i].unavailable != nil {
            candidates[i].drop = candidates[i].unavailable
        }
        guard candidates.contains(where: { $0.drop == nil }) else {
            return refusal(503, "every cluster allowed to process '\(className)' for '\(service)' is down or has no healthy endpoint")
        }
        // 3. Saturation: drop saturated candidates, unless all are saturated (then keep them all in one level).
        let allSaturated = !candidates.contains { $0.drop == nil && !$0.saturated }
        if !allSaturated {
            for i in candidates.indices where candidates[i].drop == nil && candidates[i].saturated {
                candidates[i].drop = .saturated
            }
        }
        // 4-6. Locality, cost, objective: levels by (limit violations, RTT group), weights by score.
        let knownPrices = candidates.compactMap { $0.drop == nil ? $0.price : nil }
        let dearest = knownPrices.max()
        var keys = [Int](repeating: -1, count: candidates.count)
        for i in candidates.indices where candidates[i].drop == nil {
            var candidate = candidates[i]
            candidate.scoredPrice = max(candidate.price ?? dearest ?? 1, configuration.minimumPrice)
            candidate.headroom = max(1 - (candidate.load ?? 0), configuration.minimumHeadroom)
            if let slo = preference.latencySLOMs, candidate.rttMs > slo { candidate.violatesSLO = true }
            if let ceiling = preference.priceCeilingPerGPUHour, let price = candidate.price, price > ceiling { candidate.violatesCeiling = true }
            candidate.band = candidate.cluster == source ? 0 : configuration.band(rttMs: candidate.rttMs)
            let rtt = max(candidate.rttMs, configuration.minimumRTTMs)
            let base = candidate.capacity * candidate.headroom
            switch preference.objective {
            case .latency: candidate.score = base / rtt
            case .cost: candidate.score = base / candidate.scoredPrice
            case .balanced: candidate.score = base / (rtt * candidate.scoredPrice).squareRoot()
            }
            if allSaturated {
                keys[i] = 0
            } else {
                let tier = (candidate.violatesSLO ? 1 : 0) + (candidate.violatesCeiling ? 1 : 0)
                keys[i] = tier * 1_000 + configuration.group(band: candidate.band, objective: preference.objective)
            }
            candidates[i] = candidate
        }
        let orderedKeys = Set(keys.filter { $0 >= 0 }).sorted()
        var levels: [PriorityLevel] = []
        for (levelNumber, key) in orderedKeys.enumerated() {
            let members = keys.indices.filter { keys[$0] == key }
            let weights = Self.normalizedWeights(members.map { candidates[$0].score })
            var destinations: [WeightedDestination] = []
            for (member, weight) in zip(members, weights) {
                candidates[member].level = levelNumber
                candidates[member].weight = weight
                destinations.append(WeightedDestination(cluster: context.clusters[candidates[member].cluster].name, weight: weight))
            }
            levels.append(PriorityLevel(destinations: destinations))
        }
        return RouteEvaluation(entry: RouteEntry(service: service, dataClass: className, levels: levels, timeoutSeconds: timeout),
                               candidates: candidates, allSaturated: allSaturated, preference: preference)
    }

    /// A candidate's load for a service: the largest value/limit ratio over the limits that apply.
    static func load(of state: ServiceState, in cluster: ClusterState, limits: SaturationLimits) -> (Double?, RouteEvaluation.LoadSignal?) {
        var load: Double?
        var signal: RouteEvaluation.LoadSignal?
        func consider(_ value: Double, _ limit: Double?, _ which: RouteEvaluation.LoadSignal) {
            guard let limit else { return }
            let ratio = limit > 0 ? max(value, 0) / limit : (value > 0 ? .infinity : 1)
            if load == nil || ratio > load! {
                load = ratio
                signal = which
            }
        }
        consider(state.queueDepth, limits.queueDepth, .queueDepth)
        consider(state.kvCacheUtilization, limits.kvCacheUtilization, .kvCache)
        if let gpu = cluster.gpuUtilization { consider(gpu, limits.gpuUtilization, .gpu) }
        return (load, signal)
    }

    /// Scores to weights that sum to one: proportional, rounded to six decimals (at least 0.000001), and the
    /// rounding remainder (a few millionths) given to the largest weight (shared when several tie), so that the
    /// sum is one within 1e-9.
    static func normalizedWeights(_ scores: [Double]) -> [Double] {
        guard !scores.isEmpty else { return [] }
        let total = scores.reduce(0, +)
        var weights = scores.map { total > 0 && total.isFinite && $0.isFinite ? $0 / total : 1 / Double(scores.count) }
        weights = weights.map { max(($0 * 1_000_000).rounded() / 1_000_000, 0.000_001) }
        // The remainder is a whole number of millionths; share it among the largest weights (in order when it
        // does not divide evenly), so that every weight keeps six decimals and the sum is one.
        let units = Int(((1 - weights.reduce(0, +)) * 1_000_000).rounded())
        if units != 0, let largest = weights.max() {
            let ties = weights.indices.filter { weights[$0] == largest }
            for (position, i) in ties.enumerated() {
                let share = units / ties.count + (position < abs(units % ties.count) ? units.signum() : 0)
                weights[i] = ((weights[i] * 1_000_000).rounded() + Double(share)) / 1_000_000
            }
        }
        return weights
    }
}
