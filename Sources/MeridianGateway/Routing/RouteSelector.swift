import MeridianModel

/// Chooses a destination for a route: the first priority level that has an available destination not yet tried,
/// then smooth weighted round-robin inside that level with the hub's weights scaled by each destination's current
/// availability (1 when healthy, between 0 and 1 while it ramps up after an ejection, nothing when ejected).
///
/// A pure value: the caller keeps one per event loop and passes availability in. Its state is a ``RouteRotation``
/// per route; a caller that can find a route's rotation without a lookup (``ForwardingWorker``, by the route's index in
/// its table) keeps the rotations itself.
public struct RouteSelector: Sendable {
    private var rotations: [RouteKey: RouteRotation] = [:]

    public init() {}

    /// Forgets the round-robin state (a new table).
    public mutating func reset() {
        rotations.removeAll(keepingCapacity: true)
    }

    /// Picks a destination.
    ///
    /// - Parameters:
    ///   - key: the route (its round-robin state is kept per key).
    ///   - levels: the route's levels, in priority order.
    ///   - excluding: clusters already tried for this request.
    ///   - availability: a destination's weight factor in (0, 1], or `nil` when it is unavailable (ejected, no
    ///     connection, no local endpoint).
    /// - Returns: the choice, or `nil` when every destination was tried.
    public mutating func choose(key: RouteKey, levels: [PriorityLevel], excluding: [String] = [],
                                availability: (String) -> Double?) -> RouteChoice? {
        rotations[key, default: RouteRotation()].choose(levels: levels, excluding: excluding, availability: availability)
    }
}

/// The round-robin state of one route: a ``SmoothWeightedRoundRobin`` per level, changed in place.
public struct RouteRotation: Sendable {
    private var levels: [SmoothWeightedRoundRobin] = []

    public init() {}

    /// ``RouteSelector/choose(key:levels:excluding:availability:)`` for this route.
    public mutating func choose(levels: [PriorityLevel], excluding: [String] = [],
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
