import NIOCore

/// Limits retries to a share of the traffic, so that retries cannot multiply the load on a failing system
/// (Envoy's retry budget, Finagle's `RetryBudget`): a retry is allowed while the retries of the last second stay
/// under `ratio` × the requests of the last second + `minimumPerSecond`.
///
/// The last second is approximated with two one-second buckets, the older one weighted by how much of it is still
/// inside the window. A pure value; one per event loop.
public struct RetryBudget: Sendable, Hashable {
    public let ratio: Double
    public let minimumPerSecond: Double
    private var bucketStart: NIODeadline?
    private var requests = 0
    private var retries = 0
    private var previousRequests = 0
    private var previousRetries = 0

    public init(ratio: Double, minimumPerSecond: Double) {
        self.ratio = ratio
        self.minimumPerSecond = minimumPerSecond
    }

    private mutating func advance(to now: NIODeadline) -> Double {
        let second = TimeAmount.seconds(1)
        guard let start = bucketStart else {
            bucketStart = now
            return 0
        }
        let elapsed = now - start
        if elapsed >= second + second {
            previousRequests = 0
            previousRetries = 0
            requests = 0
            retries = 0
            bucketStart = now
            return 0
        }
        if elapsed >= second {
            previousRequests = requests
            previousRetries = retries
            requests = 0
            retries = 0
            bucketStart = start + second
            return 1 - Double((now - bucketStart!).nanoseconds) / 1e9
        }
        return 1 - Double(elapsed.nanoseconds) / 1e9
    }

    /// Counts a new request (not a retry).
    public mutating func recordRequest(at now: NIODeadline) {
        _ = advance(to: now)
        requests += 1
    }

    /// Takes a retry from the budget if one is left.
    public mutating func tryAcquireRetry(at now: NIODeadline) -> Bool {
        let previousWeight = advance(to: now)
        let windowRequests = Double(requests) + Double(previousRequests) * previousWeight
        let windowRetries = Double(retries) + Double(previousRetries) * previousWeight
        guard windowRetries < ratio * windowRequests + minimumPerSecond else { return false }
        retries += 1
        return true
    }
}
