import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import MeridianGateway
import MeridianModel
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `meridian gateway` (and the `meridian-gateway` executable): runs the east-west gateway of one cluster. Only reads
/// flags and `MERIDIAN_*` variables into a ``GatewayConfiguration`` and starts the service; everything else is in the
/// MeridianGateway library.
public struct GatewayCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Run an east-west gateway: local listener, mTLS tunnel, routing by the hub's table.",
        discussion: """
            Join a hub on first start:
              meridian gateway --cluster eu-west --hub https://hub:8443 --hub-ca ca.pem --join-token T \\
                --data-dir /var/lib/meridian --endpoint llama=127.0.0.1:8000
            Without a hub (static table and certificates):
              meridian gateway --cluster east --table east.json --cert east.pem --key east-key.pem --trust-bundle ca.pem
            """)

    @Option(help: "This gateway's cluster (env MERIDIAN_CLUSTER)")
    var cluster: String?

    @Option(name: .customLong("hub"), help: "Hub address https://HOST:PORT; repeat for replicas (env MERIDIAN_HUB, comma-separated)")
    var hubs: [String] = []

    @Option(help: "PEM file with the hub's CA (env MERIDIAN_CA_FILE)")
    var hubCA: String?

    @Option(help: "One-time join token (env MERIDIAN_JOIN_TOKEN)")
    var joinToken: String?

    @Option(help: "Data directory: key, certificate, trust bundle, last good table (env MERIDIAN_DATA_DIR; default .meridian/gateway-CLUSTER)")
    var dataDir: String?

    @Option(help: "Local listener HOST:PORT (HTTP/1.1 and h2c)")
    var localListen: String = "127.0.0.1:15001"

    @Option(help: "Tunnel listener HOST:PORT (mTLS, HTTP/2)")
    var tunnelListen: String = "0.0.0.0:15443"

    @Option(help: "Metrics listener HOST:PORT, or 'off'")
    var metricsListen: String = "127.0.0.1:15090"

    @Option(name: .customLong("endpoint"), help: "Local endpoint SERVICE=HOST:PORT (or SERVICE=h2c://HOST:PORT); repeatable")
    var endpoints: [String] = []

    @Option(help: "Routing table JSON file, for running without a hub")
    var table: String?

    @Option(help: "Gateway certificate chain PEM (without a hub)")
    var cert: String?

    @Option(help: "Gateway private key PEM (without a hub)")
    var key: String?

    @Option(help: "Trust bundle PEM (without a hub)")
    var trustBundle: String?

    @Option(help: "DCGM exporter metrics URL (http://HOST:PORT/metrics)")
    var dcgmURL: String?

    @Option(name: .customLong("vllm-url"), help: "vLLM metrics SERVICE=URL; repeatable")
    var vllmURLs: [String] = []

    @Option(help: "SPIFFE trust domain")
    var trustDomain: String = "meridian.local"

    @Option(help: "Event loop threads (default: one per core)")
    var threads: Int?

    @Option(help: "Access log: stdout, logger or off")
    var accessLog: String = "stdout"

    @Option(help: "Heartbeat interval, seconds")
    var heartbeatInterval: Double = 2

    @Option(help: "Probe interval, seconds")
    var probeInterval: Double = 1

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical")
    var logLevel: String = "info"

    @Option(help: "Seconds a client connection may sit idle with no request in flight")
    var idleTimeout: Double = 300

    @Option(help: "Seconds to connect to a peer gateway or a local endpoint")
    var connectTimeout: Double = 2

    @Option(help: "Seconds a tunnel peer has to finish its TLS handshake and be verified")
    var handshakeTimeout: Double = 10

    @Option(help: "Seconds a request may take when the routing table gives no timeout (tunnel side)")
    var requestTimeout: Double = 300

    @Option(help: "Largest request header block, bytes")
    var maxHeaderBytes: Int = 64 * 1024

    @Option(name: .customLong("http2-window"),
            help: "HTTP/2 flow-control window of each stream and connection, KiB: what may wait per stream for a slow destination, and a stream's data per round trip")
    var http2WindowKiB: Int = 1024

    @Option(name: .customLong("http2-window-max"),
            help: "Largest window a tunnel connection and its streams grow to when the link's bandwidth-delay product calls for it, KiB (at most --http2-window: windows stay fixed)")
    var http2WindowMaxKiB: Int = 16 * 1024

    @Option(help: "Largest request body, bytes (default: any size, streamed)")
    var maxRequestBodyBytes: Int64?

    @Option(help: "Most concurrent streams to one peer gateway or h2c endpoint (circuit breaking)")
    var maxStreamsPerPeer: Int = 1000

    @Option(help: "Most requests waiting for a peer's connection or a local endpoint's free connection (circuit breaking)")
    var maxPendingPerPeer: Int = 256

    @Option(help: "Most HTTP/1.1 connections open to one local endpoint (circuit breaking)")
    var maxConnectionsPerEndpoint: Int = 1024

    @Option(help: "Seconds requests in flight get to finish on shutdown")
    var drainTimeout: Double = 10

    public init() {}

    public func run() async throws {
        MallocTuning.restartWithTunablesIfUnset()   // (returns at once in the restarted process)
        let configuration = try makeConfiguration(environment: ProcessInfo.processInfo.environment)
        var logger = Logger(label: "meridian.gateway")
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("--log-level '\(logLevel)' is not a level") }
        logger.logLevel = level
        // Read once by the dynamic loader before main, never again: 2.2 MB of resident memory (docs/gateway.md).
        let released = RelocationTable.releaseResidentPages()
        logger.debug("released the pages of the relocation table", metadata: ["meridian.released_bytes": "\(released)"])
        let gateway = Gateway(configuration: configuration, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: gateway)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The gateway's configuration from the options (and `MERIDIAN_*` variables); a `ValidationError` names the
    /// option at fault.
    func makeConfiguration(environment: [String: String]) throws -> GatewayConfiguration {
        guard let cluster = cluster ?? environment["MERIDIAN_CLUSTER"], !cluster.isEmpty else {
            throw ValidationError("--cluster is required (or MERIDIAN_CLUSTER)")
        }
        var configuration = GatewayConfiguration(
            cluster: cluster, dataDirectory: dataDir ?? environment["MERIDIAN_DATA_DIR"] ?? ".meridian/gateway-\(cluster)")
        (configuration.localHost, configuration.localPort) = try Self.hostPort(localListen, option: "--local-listen")
        (configuration.tunnelHost, configuration.tunnelPort) = try Self.hostPort(tunnelListen, option: "--tunnel-listen")
        if metricsListen == "off" {
            configuration.metricsPort = -1
        } else {
            (configuration.metricsHost, configuration.metricsPort) = try Self.hostPort(metricsListen, option: "--metrics-listen")
        }
        configuration.hubURLs = hubs.isEmpty
            ? (environment["MERIDIAN_HUB"] ?? "").split(separator: ",").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
            : hubs
        configuration.hubCAPath = hubCA ?? environment["MERIDIAN_CA_FILE"]
        configuration.joinToken = joinToken ?? environment["MERIDIAN_JOIN_TOKEN"]
        configuration.staticTablePath = table
        configuration.certificatePath = cert
        configuration.privateKeyPath = key
        configuration.trustBundlePath = trustBundle
        configuration.trustDomain = trustDomain
        configuration.dcgmMetricsURL = dcgmURL
        for endpoint in endpoints {
            let (service, address) = try Self.pair(endpoint, option: "--endpoint")
            guard LocalEndpoint(address) != nil else { throw ValidationError("--endpoint \(endpoint): '\(address)' is not HOST:PORT") }
            configuration.localEndpoints[service.lowercased(), default: []].append(address)
        }
        for url in vllmURLs {
            let (service, address) = try Self.pair(url, option: "--vllm-url")
            configuration.vllmMetricsURLs[service.lowercased()] = address
        }
        if let threads { configuration.eventLoopThreads = max(1, threads) }
        switch accessLog {
        case "stdout": configuration.accessLog = .standardOutput
        case "logger": configuration.accessLog = .logger
        case "off", "none": configuration.accessLog = .disabled
        default: throw ValidationError("--access-log must be stdout, logger or off")
        }
        configuration.heartbeatInterval = .milliseconds(Int64(max(0.1, heartbeatInterval) * 1000))
        configuration.probeInterval = .milliseconds(Int64(max(0.1, probeInterval) * 1000))
        configuration.idleTimeout = try Self.seconds(idleTimeout, option: "--idle-timeout")
        configuration.connectTimeout = try Self.seconds(connectTimeout, option: "--connect-timeout")
        configuration.handshakeTimeout = try Self.seconds(handshakeTimeout, option: "--handshake-timeout")
        configuration.defaultRequestTimeout = try Self.seconds(requestTimeout, option: "--request-timeout")
        configuration.drainTimeout = try Self.seconds(drainTimeout, option: "--drain-timeout")
        guard maxHeaderBytes >= 1024 else { throw ValidationError("--max-header-bytes must be at least 1024 (got \(maxHeaderBytes))") }
        configuration.maxHeaderBytes = maxHeaderBytes
        guard (64...2_097_151).contains(http2WindowKiB) else {
            throw ValidationError("--http2-window must be between 64 and 2097151 KiB (HTTP/2 windows stop below 2 GiB) (got \(http2WindowKiB))")
        }
        configuration.http2Window = http2WindowKiB * 1024
        guard (64...2_097_151).contains(http2WindowMaxKiB) else {
            throw ValidationError("--http2-window-max must be between 64 and 2097151 KiB (HTTP/2 windows stop below 2 GiB) (got \(http2WindowMaxKiB))")
        }
        configuration.http2WindowMax = http2WindowMaxKiB * 1024
        if let maxRequestBodyBytes {
            guard maxRequestBodyBytes >= 0 else { throw ValidationError("--max-request-body-bytes must be 0 or more (got \(maxRequestBodyBytes))") }
            configuration.maxRequestBodyBytes = maxRequestBodyBytes
        }
        guard maxStreamsPerPeer >= 1 else { throw ValidationError("--max-streams-per-peer must be at least 1 (got \(maxStreamsPerPeer))") }
        guard maxPendingPerPeer >= 0 else { throw ValidationError("--max-pending-per-peer must be 0 or more (got \(maxPendingPerPeer))") }
        configuration.resilience.maxConcurrentStreamsPerPeer = maxStreamsPerPeer
        configuration.resilience.maxPendingPerPeer = maxPendingPerPeer
        guard maxConnectionsPerEndpoint >= 1 else { throw ValidationError("--max-connections-per-endpoint must be at least 1 (got \(maxConnectionsPerEndpoint))") }
        configuration.resilience.maxConnectionsPerEndpoint = maxConnectionsPerEndpoint
        if configuration.hubURLs.isEmpty && table == nil {
            writeToStandardError("meridian gateway: no --hub and no --table; using the saved table of the data directory, if any\n")
        }
        return configuration
    }

    /// A positive number of seconds, as a `Duration` (millisecond precision).
    static func seconds(_ value: Double, option: String) throws -> Duration {
        guard value.isFinite, value >= 0.001 else { throw ValidationError("\(option) must be a positive number of seconds (got \(value))") }
        return .milliseconds(Int64((value * 1000).rounded()))
    }

    static func hostPort(_ text: String, option: String) throws -> (String, Int) {
        guard let (host, port) = HostPort.parse(text) else { throw ValidationError("\(option) must be HOST:PORT, got '\(text)'") }
        return (host, port)
    }

    static func pair(_ text: String, option: String) throws -> (String, String) {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
            throw ValidationError("\(option) must be SERVICE=VALUE, got '\(text)'")
        }
        return (String(text[..<equals]), String(text[text.index(after: equals)...]))
    }
}

/// Writes `text` to standard error at once, unbuffered (`write(2)`, as `FileHandle.standardError.write` does).
private func writeToStandardError(_ text: String) {
    let bytes = Array(text.utf8)
    var written = 0
    while written < bytes.count {
        let result = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress! + written, $0.count - written) }
        if result > 0 {
            written += result
        } else if result < 0 && errno == EINTR {
            continue
        } else {
            return
        }
    }
}
