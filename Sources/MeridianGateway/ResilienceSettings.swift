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
    /// Requests waiting, per event loop: for a peer connection being established, or for a connection to a local
    /// HTTP/1.1 endpoint to come free when ``maxConnectionsPerEndpoint`` are open. More are refused as overflow.
    /// Default 256.
    public var maxPendingPerPeer: Int = 256
    /// HTTP/1.1 connections open at once to one local endpoint, per event loop (in use or idle); a request that finds
    /// none free waits (up to ``maxPendingPerPeer``) for one to be checked in or closed. Default 1024.
    public var maxConnectionsPerEndpoint: Int = 1024
    /// A probe that has no answer after this long failed. Default 1 s.
    public var probeTimeout: Duration = .seconds(1)

    public init() {}
}
