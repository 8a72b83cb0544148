import Prometheus
import Synchronization

/// The gateway's Prometheus metrics, registered in a `PrometheusCollectorRegistry` that the caller passes in (and
/// serves on the metrics listener).
///
/// | metric | labels |
/// | --- | --- |
/// | `meridian_gateway_requests_total` | source, destination, service, status |
/// | `meridian_gateway_request_duration_seconds` (histogram) | source, destination, service |
/// | `meridian_gateway_active_requests` | listener (`local`, `tunnel`) |
/// | `meridian_gateway_retries_total` | service |
/// | `meridian_gateway_peer_up` | peer (1 when a warm connection is ready) |
/// | `meridian_gateway_peer_ejected` | peer (1 while ejected) |
/// | `meridian_gateway_peer_ejections_total` | peer |
/// | `meridian_gateway_peer_rtt_seconds` | peer (latest probe) |
/// | `meridian_gateway_peer_active_streams` | peer |
/// | `meridian_gateway_table_version` | |
/// | `meridian_gateway_certificate_expiry_seconds` | (seconds left) |
/// | `meridian_gateway_hub_up` | (1 when the last hub call succeeded) |
/// | `meridian_gateway_hub_errors_total` | operation |
/// | `meridian_gateway_tunnel_window_growths_total` | (a tunnel connection's window grew with its link's bandwidth-delay product) |
/// | `meridian_gateway_tunnel_window_bytes` | peer, connection (`outgoing`, `incoming`): the receive window a tunnel connection with the peer last started at or grew to |
public final class GatewayMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    /// The request latency histograms by label set (source, destination, service): kept here, not in the
    /// registry, and served after its metrics (``exposition()``).
    private let latency = Mutex<[[String]: LatencyHistogram]>([:])
    static let latencyName = "meridian_gateway_request_duration_seconds"

    public let tableVersion: Gauge
    public let certificateExpirySeconds: Gauge
    public let hubUp: Gauge
    public let localActiveRequests: Gauge
    public let tunnelActiveRequests: Gauge
    public let tunnelWindowGrowths: Counter

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        tableVersion = registry.makeGauge(descriptor: Self.name("table", "version", "Version of the routing table applied"))
        certificateExpirySeconds = registry.makeGauge(descriptor: Self.name("certificate_expiry", "seconds", "Seconds until the gateway certificate expires"))
        hubUp = registry.makeGauge(descriptor: Self.name("hub", "up", "1 when the last call to a hub succeeded"))
        let active = Self.name("active", "requests", "Requests in flight")
        localActiveRequests = registry.makeGauge(descriptor: active, labels: [("listener", "local")])
        tunnelActiveRequests = registry.makeGauge(descriptor: active, labels: [("listener", "tunnel")])
        tunnelWindowGrowths = registry.makeCounter(descriptor: Self.name(
            "tunnel_window_growths", "total", "Times a tunnel connection's HTTP/2 window grew with its link's bandwidth-delay product"))
    }

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "meridian", subsystem: "gateway", metricName: metric, unitName: unit, helpText: help)
    }

    /// The request counter for one label set.
    func requestCounter(source: String, destination: String, service: String, status: Int) -> Counter {
        registry.makeCounter(descriptor: Self.name("requests", "total", "Requests by source, destination, service and status"),
                             labels: [("source", source), ("destination", destination), ("service", service), ("status", String(status))])
    }

    /// The latency histogram for one label set (the same one for each caller: every event loop records into it).
    func requestDuration(source: String, destination: String, service: String) -> LatencyHistogram {
        latency.withLock { histograms in
            let key = [source, destination, service]
            if let known = histograms[key] { return known }
            let histogram = LatencyHistogram(labels: [("source", source), ("destination", destination), ("service", service)])
            histograms[key] = histogram
            return histogram
        }
    }

    /// What the metrics listener serves: the registry's metrics, then the latency histograms (label sets in order).
    public func exposition() -> [UInt8] {
        var bytes = registry.emitToBuffer()
        let histograms = latency.withLock { $0.values.sorted { $0.labels < $1.labels } }
        guard !histograms.isEmpty else { return bytes }
        var text = "# HELP \(Self.latencyName) Request latency until the response ended\n# TYPE \(Self.latencyName) histogram\n"
        for histogram in histograms { histogram.write(name: Self.latencyName, into: &text) }
        bytes.append(contentsOf: text.utf8)
        return bytes
    }

    func retries(service: String) -> Counter {
        registry.makeCounter(descriptor: Self.name("retries", "total", "Retries on another destination"), labels: [("service", service)])
    }

    func peerUp(_ peer: String) -> Gauge {
        registry.makeGauge(descriptor: Self.name("peer", "up", "1 when a warm connection to the peer is ready"), labels: [("peer", peer)])
    }

    func peerEjected(_ peer: String) -> Gauge {
        registry.makeGauge(descriptor: Self.name("peer", "ejected", "1 while the peer is ejected"), labels: [("peer", peer)])
    }

    func peerEjections(_ peer: String) -> Counter {
        registry.makeCounter(descriptor: Self.name("peer_ejections", "total", "Ejections of a peer"), labels: [("peer", peer)])
    }

    func peerRTT(_ peer: String) -> Gauge {
        registry.makeGauge(descriptor: Self.name("peer_rtt", "seconds", "Latest probe round-trip time"), labels: [("peer", peer)])
    }

    func peerActiveStreams(_ peer: String) -> Gauge {
        registry.makeGauge(descriptor: Self.name("peer_active", "streams", "Streams open to a peer"), labels: [("peer", peer)])
    }

    /// The receive window a tunnel connection with `peer` that this gateway made (`outgoing`) or accepted last
    /// started at (the configured window, or one remembered from an earlier connection) or grew to: with several such
    /// connections (one per event loop), the last event of any of them.
    func tunnelWindow(_ peer: String, outgoing: Bool) -> Gauge {
        registry.makeGauge(descriptor: Self.name("tunnel_window", "bytes", "Receive window a tunnel connection with the peer last started at or grew to"),
                           labels: [("peer", peer), ("connection", outgoing ? "outgoing" : "incoming")])
    }

    func hubErrors(_ operation: String) -> Counter {
        registry.makeCounter(descriptor: Self.name("hub_errors", "total", "Failed calls to the hub"), labels: [("operation", operation)])
    }
}
