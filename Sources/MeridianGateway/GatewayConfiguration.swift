#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Settings of an east-west gateway. `meridian gateway` fills it from flags and `MERIDIAN_*` variables.
///
/// Every field has a documented default that suits a production cluster; tests and benchmarks shorten the intervals.
public struct GatewayConfiguration: Sendable {
    /// This gateway's cluster (a DNS label).
    public var cluster: String
    /// Local listener (HTTP/1.1 and h2c) for the cluster's own clients. Default 127.0.0.1:15001.
    public var localHost: String = "127.0.0.1"
    public var localPort: Int = 15001
    /// Tunnel listener (mTLS, ALPN h2) for peer gateways. Default 0.0.0.0:15443.
    public var tunnelHost: String = "0.0.0.0"
    public var tunnelPort: Int = 15443
    /// Prometheus metrics listener. Default 127.0.0.1:15090. A port of -1 disables it.
    public var metricsHost: String = "127.0.0.1"
    public var metricsPort: Int = 15090
    /// Hub replicas (`https://HOST:PORT`); empty runs on `staticTablePath` only.
    public var hubURLs: [String] = []
    /// PEM file with the root(s) that sign the hub's HTTPS certificate (`--hub-ca`); needed to join. Later calls use
    /// the mesh trust bundle kept in `dataDirectory` when this is not given.
    public var hubCAPath: String?
    /// One-time join token, used when `dataDirectory` holds no certificate yet.
    public var joinToken: String?
    /// Where the key, certificate, trust bundle and last good table are kept.
    public var dataDirectory: String
    /// A routing table file to use without a hub (tests, benchmarks).
    public var staticTablePath: String?
    /// PEM files for running without a hub (certificate chain, key, trust bundle).
    public var certificatePath: String?
    public var privateKeyPath: String?
    public var trustBundlePath: String?
    /// SPIFFE trust domain. Default `meridian.local`.
    public var trustDomain: String = "meridian.local"
    /// Local endpoints of each exported service: service name -> `HOST:PORT` list. An entry may carry a scheme:
    /// `h2c://HOST:PORT` for a model server that speaks HTTP/2 with prior knowledge (gRPC), `http://HOST:PORT` (the
    /// default) for HTTP/1.1. gRPC requests (`content-type: application/grpc`) always use h2c.
    public var localEndpoints: [String: [String]] = [:]
    /// Prometheus text endpoints to scrape for the heartbeat (DCGM exporter, vLLM `/metrics`).
    public var dcgmMetricsURL: String?
    public var vllmMetricsURLs: [String: String] = [:]
    /// Intervals.
    public var heartbeatInterval: Duration = .seconds(2)
    public var probeInterval: Duration = .seconds(1)

    // MARK: Data plane

    /// Event loop threads that carry traffic. Default: one per core. Every thread keeps its own warm HTTP/2 connection
    /// to each peer, so a request never changes threads.
    public var eventLoopThreads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Largest request body accepted (bytes); `nil` (the default) accepts any size, streamed.
    public var maxRequestBodyBytes: Int64?
    /// Largest request header block (bytes, HTTP/1.1 and HTTP/2). Default 64 KiB.
    public var maxHeaderBytes: Int = 64 * 1024
    /// The HTTP/2 flow-control window of every stream and connection the gateway reads (tunnel and h2c), bytes.
    /// It bounds what waits in the gateway for a destination that stopped reading (one window per stream), and one
    /// stream's throughput to a window per round trip (1 MiB at 100 ms: 10 MB/s). Default 1 MiB.
    public var http2Window: Int = 1024 * 1024
    /// The largest window a tunnel connection and its streams may grow to when the link's bandwidth-delay product
    /// calls for it (``AdaptiveWindow``: PINGs measure it while bulk data flows), bytes. At most ``http2Window``:
    /// windows stay fixed. Default 16 MiB (as gRPC's and hyper's adaptive windows).
    public var http2WindowMax: Int = 16 * 1024 * 1024
    /// A client connection without a request in flight is closed after this long without traffic. Default 5 minutes.
    public var idleTimeout: Duration = .seconds(300)
    /// An idle keep-alive connection to a local endpoint is closed after this long; below uvicorn's 5 s default so
    /// the gateway never reuses a connection the server is about to close. Default 4 s.
    public var upstreamIdleTimeout: Duration = .seconds(4)
    /// Time to establish a connection to a peer or a local endpoint. Default 2 s.
    public var connectTimeout: Duration = .seconds(2)
    /// A tunnel connection whose peer has not finished the TLS handshake (and been verified) by then is closed, so a
    /// peer that stalls mid-handshake holds no socket for long. Default 10 s.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Request timeout when the table has no entry to take it from (tunnel side). Default 300 s.
    public var defaultRequestTimeout: Duration = .seconds(300)
    /// Settings of retries, outlier ejection and circuit breaking.
    public var resilience: ResilienceSettings = ResilienceSettings()
    /// Where the JSON access log goes. Default standard output.
    public var accessLog: AccessLogDestination = .standardOutput
    /// How long a blocking table watch waits at the hub. Default 30 s.
    public var watchWait: Duration = .seconds(30)
    /// On graceful shutdown, how long requests in flight may take to finish. Default 10 s.
    public var drainTimeout: Duration = .seconds(10)
    /// On graceful shutdown, how long connections stay open after the GOAWAY even when idle, so that peers and
    /// clients see it before a stream they started meanwhile is cut. Default 1 s.
    public var drainGrace: Duration = .seconds(1)

    public init(cluster: String, dataDirectory: String) {
        self.cluster = cluster
        self.dataDirectory = dataDirectory
    }
}
