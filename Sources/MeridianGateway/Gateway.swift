#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import MeridianClient
import MeridianModel
import MeridianPKI
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization

/// The east-west gateway of one cluster, as a swift-service-lifecycle `Service`.
///
/// `run()` does, in order:
/// 1. **identity**: the certificate in the data directory (`gateway-key.pem`, `gateway-chain.pem`,
///    `trust-bundle.pem`); else the PEM files of the configuration; else it joins the hub with the join token (a new
///    key and CSR, `POST /v1/join`) and writes the files (key 0600);
/// 2. **table**: the last good table (`table.json` in the data directory) or the static table file, so a gateway
///    restarted without a hub routes at once;
/// 3. **listeners**: local (HTTP/1.1 + h2c), tunnel (mTLS, ALPN h2), metrics;
/// 4. **loops**, child tasks of the service that end on graceful shutdown: the table watch (blocking query,
///    apply, persist, acknowledge), heartbeats (inventory scraped from DCGM and vLLM, endpoint health, probes),
///    certificate renewal at two thirds of the lifetime, probes of every peer, the access-log flush.
///
/// A hub outage never stops traffic: every loop that talks to the hub retries on its own and the data plane keeps
/// the last table. On graceful shutdown the listeners stop accepting, requests in flight get `drainTimeout` to
/// finish, then connections close.
public final class Gateway: Service {
    public let configuration: GatewayConfiguration
    public let metrics: GatewayMetrics
    let logger: Logger
    private let providedGroup: (any EventLoopGroup)?
    private let addresses = OnceValue<GatewayAddresses>()
    private let state = Mutex(State())

    private struct State: Sendable {
        var runtime: Runtime?
        var table: RoutingTable?
    }

    /// Everything a running gateway holds.
    final class Runtime: Sendable {
        let group: any EventLoopGroup
        let context: DataPlaneContext
        let workers: WorkerSet
        let tls: TLSContextStore
        let verifier: PeerIdentityVerifier
        let hub: HubSession?
        private let identityBox: Mutex<GatewayIdentity>
        let channels: Mutex<[any Channel]> = Mutex([])

        init(group: any EventLoopGroup, context: DataPlaneContext, workers: WorkerSet, tls: TLSContextStore, verifier: PeerIdentityVerifier,
             hub: HubSession?, identity: GatewayIdentity) {
            self.group = group
            self.context = context
            self.workers = workers
            self.tls = tls
            self.verifier = verifier
            self.hub = hub
            self.identityBox = Mutex(identity)
        }

        var identity: GatewayIdentity {
            get { identityBox.withLock { $0 } }
            set { identityBox.withLock { $0 = newValue } }
        }
    }

    /// Creates a gateway.
    ///
    /// - Parameters:
    ///   - configuration: the settings.
    ///   - logger: where the gateway logs (and, with ``AccessLogDestination/logger``, its access log).
    ///   - registry: the Prometheus registry its metrics go to, served on the metrics listener (with the request latency
    ///     histograms, which ``GatewayMetrics`` keeps itself: ``GatewayMetrics/exposition()``).
    ///   - eventLoopGroup: the group to run on; by default the gateway makes one with
    ///     ``GatewayConfiguration/eventLoopThreads`` threads and shuts it down when it stops.
    public init(configuration: GatewayConfiguration, logger: Logger, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
                eventLoopGroup: (any EventLoopGroup)? = nil) {
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "meridian.cluster"] = "\(configuration.cluster)"
        self.logger = logger
        self.metrics = GatewayMetrics(registry: registry)
        self.providedGroup = eventLoopGroup
    }

    /// Where the gateway listens, once it does (throws if it failed to start).
    public func listeningAddresses() async throws -> GatewayAddresses {
        try await addresses.value
    }

    /// The routing table applied last.
    public var appliedTable: RoutingTable? {
        state.withLock { $0.table }
    }

    /// Whether a destination (a peer cluster, or `local/HOST:PORT`) is ejected now.
    public func isEjected(_ destination: String) -> Bool {
        state.withLock { $0.runtime }?.context.health.isEjected(destination) ?? false
    }

    /// Whether some event loop holds a ready connection to the peer.
    public func isConnected(toPeer cluster: String) -> Bool {
        state.withLock { $0.runtime }?.context.isPeerConnected(cluster) ?? false
    }

    /// Applies a table now (as a push from the hub would, without writing it to disk). For tests and tools.
    public func apply(_ table: RoutingTable) async throws {
        guard let runtime = state.withLock({ $0.runtime }) else {
            throw GatewayError(.invalidConfiguration, "the gateway is not running")
        }
        await apply(table, runtime: runtime, persist: false)
    }

    // MARK: Service

    public func run() async throws {
        let ownedGroup = providedGroup == nil ? MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopThreads)) : nil
        let group: any EventLoopGroup = providedGroup ?? ownedGroup!
        do {
            try await run(on: group)
        } catch {
            addresses.set(.failure(error))
            state.withLock { $0.runtime = nil }
            try? await ownedGroup?.shutdownGracefully()
            throw error
        }
        state.withLock { $0.runtime = nil }
        try? await ownedGroup?.shutdownGracefully()
    }

    private func run(on group: any EventLoopGroup) async throws {
        try validate()
        let identity = try await obtainIdentity()
        logger.info("gateway identity", metadata: ["meridian.spiffe": "\(identity.spiffeID)", "meridian.serial": "\(identity.serial)",
                                                   "meridian.not_after": "\(identity.notAfter)"])
        let verifier: PeerIdentityVerifier
        let tls: TLSContextStore
        do {
            verifier = try PeerIdentityVerifier(trustBundlePEM: identity.trustBundlePEM, trustDomain: configuration.trustDomain)
            tls = try TLSContextStore(chainPEM: identity.chainPEM, privateKeyPEM: identity.privateKeyPEM, trustBundle: verifier.trustBundle)
        } catch {
            throw GatewayError(.invalidIdentity, "cannot build TLS from the gateway certificate: \(error)")
        }
        let metrics = self.metrics
        let logger = self.logger
        let health = DestinationHealth(settings: configuration.resilience.outlier) { event in
            switch event.transition {
            case .ejected(let why):
                logger.warning("destination ejected", metadata: ["meridian.destination": "\(event.destination)", "meridian.reason": "\(why)"])
                if !event.destination.hasPrefix("local/") {
                    metrics.peerEjections(event.destination).increment()
                    metrics.peerEjected(event.destination).set(to: 1.0)
                }
            case .restored:
                logger.info("destination restored by probes", metadata: ["meridian.destination": "\(event.destination)"])
                if !event.destination.hasPrefix("local/") { metrics.peerEjected(event.destination).set(to: 0.0) }
            case .none:
                break
            }
        }
        let accessLog = AccessLog(destination: configuration.accessLog, logger: logger)
        let context = DataPlaneContext(configuration: configuration, tls: tls, verifier: verifier, health: health, metrics: metrics,
                                       accessLog: accessLog, logger: logger)
        let workers = WorkerSet(group: group, context: context)
        let hub: HubSession? = configuration.hubURLs.isEmpty ? nil
            : HubSession(baseURLs: configuration.hubURLs, hubCAPEM: try configuration.hubCAPath.map { path throws(GatewayError) in try SecureFile.read(path) })
        let runtime = Runtime(group: group, context: context, workers: workers, tls: tls, verifier: verifier, hub: hub, identity: identity)
        state.withLock { $0.runtime = runtime }
        metrics.certificateExpirySeconds.set(to: identity.notAfter.timeIntervalSinceNow)

        if let table = try loadInitialTable() {
            await apply(table, runtime: runtime, persist: false)
        } else {
            logger.warning("no routing table yet: requests are answered 503 until the hub pushes one",
                           metadata: ["meridian.hubs": "\(configuration.hubURLs.joined(separator: ","))"])
        }

        let bound: GatewayAddresses
        do {
            let local = try await listen("local", configuration.localHost, configuration.localPort, runtime) {
                try await GatewayListeners.bindLocal(group: group, host: configuration.localHost, port: configuration.localPort, workers: workers, context: context)
            }
            let tunnel = try await listen("tunnel", configuration.tunnelHost, configuration.tunnelPort, runtime) {
                try await GatewayListeners.bindTunnel(group: group, host: configuration.tunnelHost, port: configuration.tunnelPort, workers: workers, context: context)
            }
            var metricsAddress: SocketAddress? = nil
            if configuration.metricsPort >= 0 {
                let metricsChannel = try await listen("metrics", configuration.metricsHost, configuration.metricsPort, runtime) {
                    try await MetricsListener.bind(group: group, host: configuration.metricsHost, port: configuration.metricsPort,
                                                   metrics: metrics) { [weak self] in self?.appliedTable != nil }
                }
                metricsAddress = metricsChannel.localAddress
            }
            bound = GatewayAddresses(local: local.localAddress!, tunnel: tunnel.localAddress!, metrics: metricsAddress)
        } catch {
            for channel in runtime.channels.withLock({ $0 }) { try? await channel.close() }
            throw error
        }
        logger.info("gateway listening", metadata: [
            "meridian.local": "\(bound.local)", "meridian.tunnel": "\(bound.tunnel)", "meridian.metrics": "\(bound.metrics.map { "\($0)" } ?? "off")",
            "meridian.threads": "\(workers.workers.count)",
        ])
        addresses.set(.success(bound))

        await withDiscardingTaskGroup { group in
            group.addTask { await cancelWhenGracefulShutdown { await self.probeLoop(runtime) } }
            if configuration.accessLog == .standardOutput {
                group.addTask { await cancelWhenGracefulShutdown { await self.flushLoop(accessLog) } }
            }
            group.addTask { await cancelWhenGracefulShutdown { await self.certificateLoop(runtime) } }
            if let hub {
                group.addTask { await cancelWhenGracefulShutdown { await self.watchLoop(runtime, hub: hub) } }
                group.addTask { await cancelWhenGracefulShutdown { await self.heartbeatLoop(runtime, hub: hub) } }
            }
            group.addTask {
                // Stop accepting and drain on graceful shutdown (or when the service task is cancelled).
                try? await gracefulShutdown()
                await self.drain(runtime)
            }
        }
        accessLog.flush()
        await hub?.shutdown()
        logger.info("gateway stopped")
    }

    private func listen(_ name: String, _ host: String, _ port: Int, _ runtime: Runtime,
                        _ bind: () async throws -> any Channel) async throws -> any Channel {
        do {
            let channel = try await bind()
            runtime.channels.withLock { $0.append(channel) }
            return channel
        } catch {
            throw GatewayError(.bindFailed, "cannot listen on \(HostPort.format(host: host, port: port)) (\(name) listener): \(error)")
        }
    }

    private func validate() throws(GatewayError) {
        for (service, endpoints) in configuration.localEndpoints {
            for endpoint in endpoints where LocalEndpoint(endpoint) == nil {
                throw GatewayError(.invalidConfiguration, "endpoint '\(endpoint)' of service '\(service)' is not HOST:PORT (or h2c://HOST:PORT)")
            }
        }
        guard !configuration.cluster.isEmpty else { throw GatewayError(.invalidConfiguration, "the cluster name is empty") }
    }

    /// Stops the listeners, waits for requests in flight (at most `drainTimeout`), closes every connection.
    private func drain(_ runtime: Runtime) async {
        let channels = runtime.channels.withLock { channels -> [any Channel] in
            defer { channels.removeAll() }
            return channels
        }
        for channel in channels { try? await channel.close() }
        await runtime.workers.forEach { $0.startDraining() }
        // Sleeps here ignore cancellation: a cancelled service still drains (boundedly) instead of spinning.
        let loop = runtime.group.next()
        func pause(_ duration: Duration) async {
            try? await loop.scheduleTask(in: duration.timeAmount) {}.futureResult.get()
        }
        let start = ContinuousClock.now
        let deadline = start + configuration.drainTimeout
        let grace = start + min(configuration.drainGrace, configuration.drainTimeout)
        while ContinuousClock.now < grace { await pause(.milliseconds(50)) }
        // Clients have had the grace period to see the first GOAWAY: name the last stream served, and give that
        // GOAWAY a moment on the wire before any close.
        await runtime.workers.forEach { $0.finishDraining() }
        repeat {
            await pause(.milliseconds(50))
        } while ContinuousClock.now < deadline && runtime.context.inFlight.load(ordering: .relaxed) > 0
        let left = runtime.context.inFlight.load(ordering: .relaxed)
        if left > 0 { logger.warning("closing with requests in flight", metadata: ["meridian.in_flight": "\(left)"]) }
        await runtime.workers.forEach { $0.shutdown() }
    }

    // MARK: Identity

    private func obtainIdentity() async throws -> GatewayIdentity {
        let directory = configuration.dataDirectory
        if GatewayIdentity.exists(in: directory) {
            return try await GatewayIdentity.load(directory: directory, cluster: configuration.cluster, trustDomain: configuration.trustDomain)
        }
        if let chain = configuration.certificatePath, let key = configuration.privateKeyPath, let bundle = configuration.trustBundlePath {
            return try await GatewayIdentity.load(chainPath: chain, keyPath: key, trustBundlePath: bundle,
                                                  cluster: configuration.cluster, trustDomain: configuration.trustDomain)
        }
        guard !configuration.hubURLs.isEmpty, let token = configuration.joinToken else {
            throw GatewayError(.noIdentity, "no certificate in \(directory), no --cert/--key/--trust-bundle files, and no --hub with --join-token to obtain one")
        }
        return try await join(token: token)
    }

    private func join(token: String) async throws -> GatewayIdentity {
        let caPEM = try configuration.hubCAPath.map { path throws(GatewayError) in try SecureFile.read(path) }
        let client = try HubClient(baseURLs: configuration.hubURLs, credentials: .none, caPEM: caPEM)
        let (key, csr) = try GatewayKeyPair.generate(cluster: configuration.cluster)
        var delay = Duration.seconds(1)
        let issued: IssuedCertificate
        while true {
            do {
                issued = try await client.join(JoinRequest(cluster: configuration.cluster, token: token, csrPEM: csr))
                break
            } catch let failure as HubClient.Failure where (400..<500).contains(failure.status) {
                try? await client.shutdown()
                throw GatewayError(.joinRefused, "the hub refused to join cluster '\(configuration.cluster)': \(failure)")
            } catch {
                logger.warning("cannot reach a hub to join, retrying", metadata: ["meridian.error": "\(error)", "meridian.retry_in": "\(delay)"])
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    try? await client.shutdown()
                    throw error
                }
                delay = min(delay * 2, .seconds(30))
            }
        }
        try? await client.shutdown()
        let identity = try await GatewayIdentity(chainPEM: issued.chainPEM, privateKeyPEM: key, trustBundlePEM: issued.trustBundlePEM,
                                                 cluster: configuration.cluster, trustDomain: configuration.trustDomain)
        try identity.write(to: configuration.dataDirectory)
        logger.info("joined the mesh", metadata: ["meridian.spiffe": "\(identity.spiffeID)", "meridian.data_dir": "\(configuration.dataDirectory)"])
        return identity
    }

    // MARK: Tables

    private func loadInitialTable() throws(GatewayError) -> RoutingTable? {
        let saved = SecureFile.path(configuration.dataDirectory, TableStore.fileName)
        if let path = configuration.staticTablePath, !SecureFile.exists(path) {
            throw GatewayError(.invalidTable, "the table file \(path) does not exist")
        }
        let candidates = configuration.hubURLs.isEmpty ? [configuration.staticTablePath, saved] : [saved, configuration.staticTablePath]
        for path in candidates.compactMap({ $0 }) where SecureFile.exists(path) {
            do throws(GatewayError) {
                let table = try TableStore.read(path)
                guard table.source == configuration.cluster else {
                    throw GatewayError(.invalidTable, "\(path) is the table of cluster '\(table.source)', not '\(configuration.cluster)'")
                }
                logger.info("loaded routing table", metadata: ["meridian.route.version": "\(table.version)", "meridian.path": "\(path)"])
                return table
            } catch {
                if path == configuration.staticTablePath { throw error }
                logger.warning("ignoring the saved routing table", metadata: ["meridian.error": "\(error)"])
            }
        }
        return nil
    }

    /// Applies a table on every event loop (each swaps it in between two requests), then the revocations and trust
    /// bundle it carries; persists it when it came from the hub.
    func apply(_ table: RoutingTable, runtime: Runtime, persist: Bool) async {
        let compiled = CompiledTable(table)
        for (key, route) in compiled.routes where !route.forbidden.isEmpty {
            logger.error("the table names destinations that residency forbids; they are skipped",
                         metadata: ["meridian.route": "\(key)", "meridian.forbidden": "\(route.forbidden.joined(separator: ","))"])
        }
        await runtime.workers.forEach { $0.install(compiled) }
        runtime.verifier.update(revokedSerials: table.revokedSerials)
        if let pem = table.trustBundlePEM, !pem.isEmpty {
            do {
                let bundle = try TrustBundle(pem: pem)
                runtime.verifier.update(trustBundle: bundle)
                var identity = runtime.identity
                if identity.trustBundlePEM != pem {
                    identity.trustBundlePEM = pem
                    runtime.identity = identity
                    if GatewayIdentity.exists(in: configuration.dataDirectory) {
                        try SecureFile.write(pem, to: SecureFile.path(configuration.dataDirectory, GatewayIdentity.trustBundleFileName), mode: 0o644)
                    }
                }
            } catch {
                logger.error("the table's trust bundle cannot be used; keeping the current one", metadata: ["meridian.error": "\(error)"])
            }
        }
        runtime.context.health.retain(only: Set(table.peers.map(\.cluster)))
        metrics.tableVersion.set(to: Double(table.version))
        state.withLock { $0.table = table }
        if persist {
            do {
                try TableStore.write(table, to: configuration.dataDirectory)
            } catch {
                logger.error("cannot save the routing table; a restart without a hub would use an older one", metadata: ["meridian.error": "\(error)"])
            }
        }
        logger.info("routing table applied", metadata: [
            "meridian.route.version": "\(table.version)", "meridian.route.hash": "\(table.hash)",
            "meridian.route.entries": "\(table.entries.count)", "meridian.route.peers": "\(table.peers.count)",
        ])
    }
}
