/// Retries, outlier ejection and circuit breaking (Envoy's vocabulary).
public struct ResilienceSettings: Sendable, Hashable {
    /// Attempts per request, the first included. Default 3.
    public var maxAttempts: Int = 3
    /// Retries allowed as a share of requests, per event loop over the last second. Default 0.2.
    public var retryBudgetRatio: Double = 0.2
    /// Retries always allowed per second and event loop, whatever the ratio says. Default 3.
    public var retryBudgetMinimumPerSecond: Double = 3
    /// A request body is kept for a retry up to this size; a longer body is streamed and never retried. Default 64 KiB.
    public var retryBufferBytes: Int = 64 * 1024
    /// Outlier detection and probing.
    public var outlier: OutlierDetector.Settings = OutlierDetector.Settings()
    /// Streams open at once to one peer, per event loop; more are refused as overflow (503 or the next destination).
    /// Default 1000.
    public var maxConcurrentStreamsPerPeer: Int = 1000
    /// Requests waiting for a peer connection being established, per event loop. Default 256.
    public var maxPendingPerPeer: Int = 256
    /// A probe that has no answer after this long failed. Default 1 s.
    public var probeTimeout: Duration = .seconds(1)

    public init() {}
}
