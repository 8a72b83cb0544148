import MeridianModel

/// Chooses a destination for a route: the first priority level that has an available destination not yet tried,
/// then smooth weighted round-robin inside that level with the hub's weights scaled by each destination's current
/// availability (1 when healthy, between 0 and 1 while it ramps up after an ejection, nothing when ejected).
///
/// A pure value: the caller keeps one per event loop and passes availability in.
public struct RouteSelector: Sendable {
    private var rotations: [RouteKey: [SmoothWeightedRoundRobin]] = [:]

    public init() {}

    /// Forgets the round-robin state (a new table).
    public mutating func reset() {
        rotations.removeAll(keepingCapacity: true)
    }

    /// Picks a destination.
    ///
    /// - Parameters:
    ///   - key: the route's key, for the round-robin state.
    ///   - levels: the route's levels, in priority order.
    ///   - excluding: clusters already tried for this request.
    ///   - availability: a destination's weight factor in (0, 1], or `nil` when it is unavailable (ejected, no
    ///     connection, no local endpoint).
    /// - Returns: the choice, or `nil` when every destination was tried.
    public mutating func choose(key: RouteKey, levels: [PriorityLevel], excluding: [String] = [],
                                availability: (String) -> Double?) -> RouteChoice? {
        var state = rotations[key] ?? levels.map { SmoothWeightedRoundRobin(count: $0.destinations.count) }
        defer { rotations[key] = state }
        if state.count != levels.count {
            state = levels.map { SmoothWeightedRoundRobin(count: $0.destinations.count) }
        }
        var skippedLevel = false
        for (index, level) in levels.enumerated() {
            let weights = level.destinations.map { destination -> Double in
                guard !excluding.contains(destination.cluster), let factor = availability(destination.cluster) else { return 0 }
                return destination.weight * factor
            }
            if let picked = state[index].next(weights: weights) {
                return RouteChoice(cluster: level.destinations[picked].cluster, level: index,
                                   reason: skippedLevel || !excluding.isEmpty ? "failover" : "primary")
            }
            skippedLevel = true
        }
        // Panic mode: every remaining destination is unavailable. Trying one beats refusing outright; the table
        // only ever names destinations that policy allows, so this never crosses a border.
        for (index, level) in levels.enumerated() {
            let weights = level.destinations.map { excluding.contains($0.cluster) ? 0 : $0.weight }
            if let picked = state[index].next(weights: weights) {
                return RouteChoice(cluster: level.destinations[picked].cluster, level: index, reason: "panic")
            }
        }
        return nil
    }
}
