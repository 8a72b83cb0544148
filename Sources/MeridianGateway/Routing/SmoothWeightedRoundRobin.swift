/// Smooth weighted round-robin, as nginx does it: every pick adds each candidate's weight to its running score, takes
/// the highest score and subtracts the total from it. Over `n` picks each candidate gets its share, interleaved
/// (weights 5:1:1 give `a a b a c a a`, not `a a a a a b c`).
///
/// Weights may change between picks (slow start after an ejection); a candidate with weight zero or less is skipped.
public struct SmoothWeightedRoundRobin: Sendable, Hashable {
    private var scores: [Double]

    /// Creates the state for `count` candidates.
    public init(count: Int) {
        scores = Array(repeating: 0, count: count)
    }

    /// Picks a candidate.
    ///
    /// - Parameter weights: the current weight of each candidate (same count as at `init`); zero or less skips it.
    /// - Returns: the index picked, or `nil` when no candidate has a positive weight.
    public mutating func next(weights: [Double]) -> Int? {
        next(count: weights.count) { weights[$0] }
    }

    /// ``next(weights:)`` with each candidate's weight read when needed (no array of weights per pick).
    public mutating func next(count: Int, weight: (Int) -> Double) -> Int? {
        if scores.count != count { scores = Array(repeating: 0, count: count) }
        var total = 0.0
        var best: Int? = nil
        for index in 0..<count {
            let weight = weight(index)
            guard weight > 0 else { continue }
            scores[index] += weight
            total += weight
            if best == nil || scores[index] > scores[best!] { best = index }
        }
        guard let best else { return nil }
        scores[best] -= total
        return best
    }
}
