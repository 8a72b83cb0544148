import Logging
import MeridianPKI
import NIOCore
import Prometheus
import Synchronization

/// What every event loop's ``ForwardingWorker`` shares: settings, TLS, the verifier, destination health, metrics and
/// the access log.
final class DataPlaneContext: Sendable {
    let configuration: GatewayConfiguration
    let localEndpoints: [String: [LocalEndpoint]]
    let tls: TLSContextStore
    let verifier: PeerIdentityVerifier
    let health: DestinationHealth
    let metrics: GatewayMetrics
    let accessLog: AccessLog
    let logger: Logger
    /// Requests in flight over all loops (for draining on shutdown).
    let inFlight = Atomic<Int>(0)
    /// Ready connections per peer, over all loops.
    private let readyConnections = Mutex<[String: Int]>([:])
    /// The windows accepted tunnel connections grew to, by peer, over all loops: a reconnecting peer's connection is
    /// placed on any loop. Touched when a connection learns its peer, grows and closes, not per request.
    let grownTunnelWindows = Mutex(RememberedWindows())

    init(configuration: GatewayConfiguration, tls: TLSContextStore, verifier: PeerIdentityVerifier, health: DestinationHealth,
         metrics: GatewayMetrics, accessLog: AccessLog, logger: Logger) {
        self.configuration = configuration
        var endpoints: [String: [LocalEndpoint]] = [:]
        for (service, list) in configuration.localEndpoints {
            endpoints[service.lowercased()] = list.compactMap(LocalEndpoint.init)
        }
        self.localEndpoints = endpoints
        self.tls = tls
        self.verifier = verifier
        self.health = health
        self.metrics = metrics
        self.accessLog = accessLog
        self.logger = logger
    }
}

extension DataPlaneContext {
    /// A worker's connection to `cluster` became ready (`up`) or was lost.
    func peerConnectivity(_ cluster: String, up: Bool) {
        let count = readyConnections.withLock { counts -> Int in
            let count = max(0, counts[cluster, default: 0] + (up ? 1 : -1))
            counts[cluster] = count
            return count
        }
        metrics.peerUp(cluster).set(to: count > 0 ? 1.0 : 0.0)
    }

    /// Whether some loop has a ready connection to `cluster`.
    func isPeerConnected(_ cluster: String) -> Bool {
        readyConnections.withLock { ($0[cluster] ?? 0) > 0 }
    }

    func requestStarted(listener: DownstreamHandler.Listener) {
        inFlight.add(1, ordering: .relaxed)
        (listener == .local ? metrics.localActiveRequests : metrics.tunnelActiveRequests).increment()
    }

    func requestFinished(listener: DownstreamHandler.Listener) {
        inFlight.subtract(1, ordering: .relaxed)
        (listener == .local ? metrics.localActiveRequests : metrics.tunnelActiveRequests).decrement()
    }
}

extension Duration {
    /// As NIO's `TimeAmount`.
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
