import Foundation
import MeridianModel

/// Why the route for (source, service, data class) is what it is: the entry (levels and weights, or a refusal)
/// and, for every cluster exporting the service, a verdict with reasons in words. What
/// `meridian route explain --from CLUSTER --service M --class D` prints (``render()``) or returns as JSON.
public struct RouteExplanation: Codable, Sendable, Hashable {
    /// What the router did with a candidate.
    public enum Verdict: String, Codable, Sendable, Hashable {
        /// In the entry, at the level its RTT group gives it.
        case kept
        /// In the entry, but moved to a later level for violating the latency SLO or the price ceiling.
        case demoted
        /// Not in the entry: jurisdiction, caller, health or saturation.
        case dropped
    }

    /// Where an RTT comes from.
    public enum RTTSource: String, Codable, Sendable, Hashable {
        /// Reported by the source gateway's probes.
        case measured
        /// From the great-circle distance between the regions' coordinates.
        case estimated
    }

    /// One cluster that exports the service.
    public struct Candidate: Codable, Sendable, Hashable {
        public var cluster: String
        public var region: String
        public var jurisdiction: Jurisdiction
        public var verdict: Verdict
        /// Priority level (0 for P0), nil when dropped.
        public var level: Int?
        /// Share of its level, nil when dropped.
        public var weight: Double?
        public var rttMs: Double
        public var rttSource: RTTSource
        /// `local`, `metro`, `regional`, `continental`, `intercontinental` or `far`; nil when dropped before locality.
        public var band: String?
        /// Reported price per GPU-hour; nil when unknown.
        public var pricePerGPUHour: Double?
        /// Largest value/limit ratio of the service's saturation signals; nil when no limit applies.
        public var load: Double?
        /// `1 - load`, floored; nil when dropped before scoring.
        public var headroom: Double?
        /// Why, in words: jurisdiction, caller, health, saturation, RTT, price, placement.
        public var reasons: [String]

        public init(cluster: String, region: String, jurisdiction: Jurisdiction, verdict: Verdict, level: Int?, weight: Double?,
                    rttMs: Double, rttSource: RTTSource, band: String?, pricePerGPUHour: Double?, load: Double?,
                    headroom: Double?, reasons: [String]) {
            self.cluster = cluster
            self.region = region
            self.jurisdiction = jurisdiction
            self.verdict = verdict
            self.level = level
            self.weight = weight
            self.rttMs = rttMs
            self.rttSource = rttSource
            self.band = band
            self.pricePerGPUHour = pricePerGPUHour
            self.load = load
            self.headroom = headroom
            self.reasons = reasons
        }
    }

    public var source: String
    public var service: String
    public var dataClass: String
    /// Jurisdiction of the source cluster, where the data comes from; nil when the source is unknown.
    public var origin: Jurisdiction?
    public var objective: RoutingObjective
    /// The entry exactly as the source's table has it.
    public var entry: RouteEntry
    /// Every exporter of the service, sorted by name.
    public var candidates: [Candidate]
    /// Remarks about the entry as a whole (for example: every candidate was saturated).
    public var notes: [String]

    public init(source: String, service: String, dataClass: String, origin: Jurisdiction?, objective: RoutingObjective,
                entry: RouteEntry, candidates: [Candidate], notes: [String]) {
        self.source = source
        self.service = service
        self.dataClass = dataClass
        self.origin = origin
        self.objective = objective
        self.entry = entry
        self.candidates = candidates
        self.notes = notes
    }

    init(_ evaluation: RouteEvaluation, source: Int, in context: RoutingContext, configuration: RouterConfiguration) {
        let sourceName = context.clusters[source].name
        let origin = context.jurisdictions[context.jurisdictionOfCluster[source]]
        let preference = evaluation.preference
        let service = evaluation.entry.service
        let dataClass = evaluation.entry.dataClass
        let bandNames = configuration.bandNames
        var candidates: [Candidate] = []
        for candidate in evaluation.candidates {
            let cluster = context.clusters[candidate.cluster]
            let jurisdiction = cluster.region.jurisdiction
            var reasons: [String] = []
            var verdict = Verdict.kept
            var reachedScoring = false
            switch candidate.drop {
            case .caller:
                reasons.append("service '\(service)' does not accept calls from '\(sourceName)' (allowedCallers): dropped")
                verdict = .dropped
            case .jurisdiction:
                reasons.append("jurisdiction \(jurisdiction): '\(dataClass)' from \(origin) may not be processed here: dropped (residency is a hard filter)")
                verdict = .dropped
            default:
                reasons.append("jurisdiction \(jurisdiction): '\(dataClass)' from \(origin) may be processed here")
                if candidate.drop == .unhealthy {
                    reasons.append("down (held down by the failure detector): dropped")
                    verdict = .dropped
                } else if candidate.drop == .noEndpoints {
                    reasons.append("up, but no healthy endpoint for '\(service)': dropped")
                    verdict = .dropped
                } else {
                    let endpoints = cluster.services[service]?.healthyEndpoints
                    reasons.append(endpoints.map { "up, \($0) healthy endpoint\($0 == 1 ? "" : "s")" } ?? "up")
                    reasons.append(Self.saturationReason(candidate, service: cluster.services[service] ?? ServiceState(),
                                                         cluster: cluster, limits: preference.saturation,
                                                         allSaturated: evaluation.allSaturated))
                    if candidate.drop == .saturated {
                        verdict = .dropped
                    } else {
                        reachedScoring = true
                    }
                }
            }
            if reachedScoring {
                var rtt = "RTT \(Self.number(candidate.rttMs, 1)) ms (\(candidate.rttMeasured ? "measured by probes" : "estimated from region distance")), band \(bandNames[candidate.band])"
                if let slo = preference.latencySLOMs {
                    rtt += candidate.violatesSLO ? "; over the latency SLO of \(Self.number(slo, 0)) ms: demoted" : "; within the latency SLO of \(Self.number(slo, 0)) ms"
                }
                reasons.append(rtt)
                var price = candidate.price.map { "price \(Self.money($0)) per GPU-hour" }
                    ?? "price unknown: scored as \(Self.money(candidate.scoredPrice)), the dearest known"
                if let ceiling = preference.priceCeilingPerGPUHour, candidate.price != nil {
                    price += candidate.violatesCeiling ? "; over the price ceiling of \(Self.money(ceiling)): demoted" : "; within the price ceiling of \(Self.money(ceiling))"
                }
                reasons.append(price)
                if (candidate.violatesSLO || candidate.violatesCeiling) && !evaluation.allSaturated { verdict = .demoted }
                if let level = candidate.level, let weight = candidate.weight {
                    reasons.append("P\(level), weight \(Self.number(weight, 6)) (score \(Self.scoreFormula(candidate, objective: preference.objective, configuration: configuration)))")
                }
            }
            let reachedLocality = reachedScoring
            candidates.append(Candidate(
                cluster: cluster.name, region: cluster.region.id, jurisdiction: jurisdiction, verdict: verdict,
                level: candidate.level, weight: candidate.weight, rttMs: candidate.rttMs,
                rttSource: candidate.rttMeasured ? .measured : .estimated,
                band: reachedLocality ? bandNames[candidate.band] : nil, pricePerGPUHour: candidate.price,
                load: candidate.load, headroom: reachedScoring ? candidate.headroom : nil, reasons: reasons))
        }
        var notes: [String] = []
        if evaluation.allSaturated {
            notes.append("every allowed, healthy cluster is saturated: they are all kept in one level rather than refusing")
        }
        if let refusal = evaluation.entry.refusal {
            notes.append("refused with \(refusal.status): \(refusal.reason)")
        }
        self.init(source: sourceName, service: service, dataClass: dataClass, origin: origin, objective: preference.objective,
                  entry: evaluation.entry, candidates: candidates, notes: notes)
    }

    // MARK: - Rendering

    /// The explanation as the CLI prints it: a header, the levels (or the refusal), then every candidate with
    /// its verdict and reasons.
    public func render() -> String {
        var lines: [String] = []
        let from = origin.map { "\(source) [\($0)]" } ?? source
        lines.append("route from \(from), service \(service), class \(dataClass), objective \(objective.rawValue), timeout \(Self.number(entry.timeoutSeconds, 0)) s")
        if let refusal = entry.refusal {
            lines.append("  REFUSED \(refusal.status): \(refusal.reason)")
        } else {
            for (index, level) in entry.levels.enumerated() {
                let destinations = level.destinations.map { "\($0.cluster) \(Self.number($0.weight, 6))" }.joined(separator: ", ")
                lines.append("  P\(index)  \(destinations)")
            }
        }
        for note in notes where entry.refusal == nil || !note.hasPrefix("refused") {
            lines.append("  note: \(note)")
        }
        if !candidates.isEmpty { lines.append("candidates:") }
        for candidate in candidates {
            var summary = "  \(candidate.cluster) (\(candidate.region), \(candidate.jurisdiction.country)): \(candidate.verdict.rawValue)"
            if let level = candidate.level, let weight = candidate.weight {
                summary += " P\(level) weight \(Self.number(weight, 6))"
            }
            lines.append(summary)
            for reason in candidate.reasons { lines.append("      - \(reason)") }
        }
        return lines.joined(separator: "\n")
    }

    static func saturationReason(_ candidate: RouteEvaluation.Candidate, service: ServiceState, cluster: ClusterState,
                                 limits: SaturationLimits, allSaturated: Bool) -> String {
        guard let load = candidate.load, let signal = candidate.loadSignal else {
            return "no saturation limit applies: headroom 1"
        }
        let detail: String
        switch signal {
        case .queueDepth: detail = "queue depth \(number(service.queueDepth, 0)) of limit \(number(limits.queueDepth ?? 0, 0))"
        case .kvCache: detail = "KV cache \(number(service.kvCacheUtilization, 2)) of limit \(number(limits.kvCacheUtilization ?? 0, 2))"
        case .gpu: detail = "GPU utilisation \(number(cluster.gpuUtilization ?? 0, 2)) of limit \(number(limits.gpuUtilization ?? 0, 2))"
        }
        if candidate.saturated {
            return allSaturated
                ? "saturated (load \(number(load, 3)): \(detail)), kept: every allowed, healthy cluster is saturated"
                : "saturated (load \(number(load, 3)): \(detail)): dropped"
        }
        return "load \(number(load, 3)) (\(detail)), headroom \(number(max(1 - load, 0), 3))"
    }

    static func scoreFormula(_ candidate: RouteEvaluation.Candidate, objective: RoutingObjective, configuration: RouterConfiguration) -> String {
        let base = "\(number(candidate.capacity, 0)) GPUs x headroom \(number(candidate.headroom, 3))"
        let rtt = number(max(candidate.rttMs, configuration.minimumRTTMs), 1)
        switch objective {
        case .latency: return "\(base) / RTT \(rtt) ms"
        case .cost: return "\(base) / price \(money(candidate.scoredPrice))"
        case .balanced: return "\(base) / sqrt(RTT \(rtt) ms x price \(money(candidate.scoredPrice)))"
        }
    }

    static func number(_ value: Double, _ decimals: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "n/a" : (value > 0 ? "inf" : "-inf") }
        return String(format: "%.\(decimals)f", value)
    }

    static func money(_ value: Double) -> String { "$" + number(value, 2) }
}
