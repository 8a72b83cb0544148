import MeridianModel

/// The round-robin state of one route: a ``SmoothWeightedRoundRobin`` per level, changed in place. A worker keeps
/// one per route of its table (``ForwardingWorker``, by the route's index) and passes availability in.
///
/// It chooses the first priority level that has an available destination not yet tried, then smooth weighted
/// round-robin inside that level with the hub's weights scaled by each destination's current availability (1 when
/// healthy, between 0 and 1 while it ramps up after an ejection, nothing when ejected).
public struct RouteRotation: Sendable {
    private var levels: [SmoothWeightedRoundRobin] = []

    public init() {}

    /// Picks a destination.
    ///
    /// - Parameters:
    ///   - levels: the route's levels, in priority order.
    ///   - excluding: clusters already tried for this request.
    ///   - availability: a destination's weight factor in (0, 1], or `nil` when it is unavailable (ejected, no
    ///     connection, no local endpoint).
    /// - Returns: the choice, or `nil` when every destination was tried.
    public mutating func choose(levels: [PriorityLevel], excluding: TriedNames = [],
                                availability: (String) -> Double?) -> RouteChoice? {
        if self.levels.count != levels.count {
            self.levels = levels.map { SmoothWeightedRoundRobin(count: $0.destinations.count) }
        }
        var skippedLevel = false
        for index in levels.indices {
            let destinations = levels[index].destinations
            let picked = self.levels[index].next(count: destinations.count) { candidate in
                let destination = destinations[candidate]
                guard !excluding.contains(destination.cluster), let factor = availability(destination.cluster) else { return 0 }
                return destination.weight * factor
            }
            if let picked {
                return RouteChoice(cluster: destinations[picked].cluster, level: index,
                                   reason: skippedLevel || !excluding.isEmpty ? "failover" : "primary")
            }
            skippedLevel = true
        }
        // Panic mode: every remaining destination is unavailable. Trying one beats refusing outright; the table
        // only ever names destinations that policy allows, so this never crosses a border.
        for index in levels.indices {
            let destinations = levels[index].destinations
            let picked = self.levels[index].next(count: destinations.count) { candidate in
                excluding.contains(destinations[candidate].cluster) ? 0 : destinations[candidate].weight
            }
            if let picked {
                return RouteChoice(cluster: destinations[picked].cluster, level: index, reason: "panic")
            }
        }
        return nil
    }
}
