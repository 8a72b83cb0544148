import Foundation
import Logging
import MeridianModel
import MeridianRouting
import MeridianStore
import NIOCore
import PostgresNIO
import Prometheus
import Synchronization

/// The hub's control loop. Every hub replica listens for published tables (LISTEN/NOTIFY) and serves them to the
/// gateways that watch it; one replica at a time, holding a PostgreSQL advisory lock, is the leader: it recomputes
/// and publishes tables on every change and runs the failure detector. When the leader dies its session ends, the
/// lock is released, and another replica takes over within a second.
public final class HubControlPlane: Sendable {
    static let leaderLockKey: Int64 = 7_431_100

    /// A hub metric's name: `meridian_hub_METRIC_UNIT`.
    static func metric(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "meridian", subsystem: "hub", metricName: metric, unitName: unit, helpText: help)
    }
    /// How long a round of database work of the control loops (a snapshot, a publication, a detector pass) may
    /// take before it is abandoned and retried.
    static let databaseDeadline: Duration = .seconds(30)
    static let latencyBuckets: [Duration] = [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                             .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5)]

    let store: MeridianStore
    let endpoint: DatabaseEndpoint
    let configuration: HubConfiguration
    let logger: Logger
    let cache = TableCache()
    let router = Router()
    let metrics: PrometheusCollectorRegistry
    private let state = Mutex(State())
    /// The leader's router: keeps the last snapshot and tables, and recomputes only what a change can affect.
    private let incremental = Mutex(IncrementalRouter())
    /// Recompute requests of the current leadership session. A stream ends when its consumer's task is
    /// cancelled, so every session makes its own.
    private let trigger = Mutex<AsyncStream<Void>.Continuation?>(nil)

    struct State {
        var isLeader = false
        var trustBundlePEM: String?
        var lastPublishAt: Date?
    }

    public init(store: MeridianStore, endpoint: DatabaseEndpoint, configuration: HubConfiguration, metrics: PrometheusCollectorRegistry, logger: Logger) {
        self.store = store
        self.endpoint = endpoint
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
    }

    private var isFirstPublish: Bool { state.withLock { $0.lastPublishAt == nil } }

    /// Whether this replica currently leads.
    public var isLeader: Bool { state.withLock { $0.isLeader } }

    /// The trust bundle carried in every table.
    public var trustBundlePEM: String? {
        get { state.withLock { $0.trustBundlePEM } }
        set { state.withLock { $0.trustBundlePEM = newValue } }
    }

    /// Asks the leader (if this replica is it) to recompute now.
    public func requestRecompute() { _ = trigger.withLock { $0?.yield() } }

    /// Runs the listener and the leader election until cancelled.
    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.listenLoop() }
            group.addTask { await self.leaderLoop() }
            await group.waitForAll()
        }
    }

    /// The router's input as of now.
    public func snapshot() async throws -> RoutingSnapshot {
        var snapshot = try await SnapshotBuilder(store: store, staleInventoryAfter: configuration.staleInventoryAfter).build(trustBundlePEM: trustBundlePEM)
        if !configuration.useMeasuredRTT { snapshot.measuredRTT = [:] }
        return snapshot
    }

    /// Compiles and publishes tables now. Returns the published (changed) tables.
    @discardableResult
    public func recompute() async throws -> [RoutingTable] {
        let started = ContinuousClock.now
        let snapshot = try await withDeadline(Self.databaseDeadline, "reading the routing snapshot") { try await self.snapshot() }
        let read = ContinuousClock.now
        let (tables, changed) = incremental.withLock { router in router.update(snapshot) }
        let routed = ContinuousClock.now
        let candidates = isFirstPublish ? Array(tables.values) : changed.compactMap { tables[$0] }
        let store = self.store
        let published = try await withDeadline(Self.databaseDeadline, "publishing tables") { try await store.publishTables(candidates) }
        state.withLock { $0.lastPublishAt = Date() }
        let elapsed = ContinuousClock.now - started
        metrics.makeDurationHistogram(descriptor: Self.metric("recompute", "seconds", "Time to read, compile and publish tables"), buckets: Self.latencyBuckets).recordNanoseconds(elapsed.nanoseconds)
        if !published.isEmpty {
            logger.info("published routing tables", metadata: [
                "meridian.route.clusters": "\(published.map { "\($0.source)@\($0.version)" }.joined(separator: ","))",
                "meridian.route.compile_ms": "\(elapsed.milliseconds)",
                "meridian.route.read_ms": "\((read - started).milliseconds)",
                "meridian.route.route_ms": "\((routed - read).milliseconds)",
                "meridian.route.publish_ms": "\((ContinuousClock.now - routed).milliseconds)",
            ])
        }
        return published
    }

    // MARK: - Listener: keep the table cache in step with the database

    private func listenLoop() async {
        let logger = self.logger
        var attempt = 0
        while !Task.isCancelled {
            do {
                let connection = try await connect(id: 1)
                attempt = 0
                do {
                    try await withDeadline(Self.databaseDeadline, "loading the published tables") { try await self.reloadAllTables() }
                    // Table notifications arrive in bursts (one per cluster on every recompute): collect the names
                    // and load each burst with one query.
                    let (changes, changed) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
                    let pending = PendingNames()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            try await connection.listen(on: MeridianStore.tableChannel) { notifications in
                                for try await notification in notifications {
                                    pending.insert(notification.payload)
                                    changed.yield()
                                }
                            }
                        }
                        group.addTask {
                            try await connection.listen(on: MeridianStore.changeChannel) { notifications in
                                for try await notification in notifications {
                                    if notification.payload.hasPrefix("cluster:") {
                                        pending.insert(String(notification.payload.dropFirst("cluster:".count)))
                                        changed.yield()
                                    }
                                    self.requestRecompute()
                                }
                            }
                        }
                        group.addTask {
                            for await _ in changes {
                                let names = pending.take()
                                if !names.isEmpty {
                                    try await withDeadline(Self.databaseDeadline, "loading published tables") { try await self.reloadTables(names) }
                                }
                            }
                        }
                        group.addTask {
                            // A notification stream can outlive its server (PostgresNIO does not always end it when
                            // PostgreSQL restarts): ping, and on silence close the connection, which ends the streams.
                            while true {
                                try await Task.sleep(for: .seconds(1))
                                do {
                                    try await withDeadline(Self.queryDeadline, "the notification session's ping") {
                                        _ = try await connection.query("SELECT 1", logger: logger)
                                    }
                                } catch {
                                    await self.close(connection)
                                    throw error
                                }
                            }
                        }
                        try await group.next()
                        group.cancelAll()
                    }
                } catch {
                    if !Task.isCancelled { logger.warning("lost the database notification channel; reconnecting", metadata: ["meridian.error": "\(error)"]) }
                }
                await close(connection)
            } catch {
                attempt += 1
                if attempt == 1 || attempt % 10 == 0 {
                    logger.warning("cannot reach PostgreSQL for notifications; retrying", metadata: ["meridian.error": "\(error)"])
                }
            }
            try? await Task.sleep(for: .milliseconds(min(1000, 100 * (attempt + 1))))
        }
    }

    private func reloadAllTables() async throws {
        for row in try await store.publishedTableBodies(clusters: nil) {
            await cache.update(PublishedTable(cluster: row.cluster, version: row.version, hash: row.hash, publishedAt: row.publishedAt, body: row.body))
        }
    }

    private func reloadTables(_ clusters: Set<String>) async throws {
        let loaded = try await store.publishedTableBodies(clusters: Array(clusters))
        for row in loaded {
            await cache.update(PublishedTable(cluster: row.cluster, version: row.version, hash: row.hash, publishedAt: row.publishedAt, body: row.body))
            metrics.makeGauge(descriptor: Self.metric("table", "version", "Version of the table last published for a cluster"), labels: [("cluster", row.cluster)]).set(Double(row.version))
        }
        let missing = clusters.subtracting(loaded.map(\.cluster))
        for cluster in missing where try await store.cluster(named: cluster) == nil {
            await cache.remove(cluster)
        }
    }

    // MARK: - Leader: recompute, publish, detect failures

    private func leaderLoop() async {
        while !Task.isCancelled {
            do {
                let connection = try await connect(id: 2)
                // Closing the session releases the advisory lock at once, so another replica can take over. The
                // close runs in a task of its own, so that it completes even when this one is cancelled (a hub
                // shutting down), and it is awaited, so that the connection is closed before it is released.
                do {
                    try await lead(on: connection)
                } catch {
                    await close(connection)
                    throw error
                }
                await close(connection)
            } catch {
                if !Task.isCancelled { logger.warning("leadership ended; will try again", metadata: ["meridian.error": "\(error)"]) }
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Closes a dedicated connection in a task of its own, so that it completes even when the caller is cancelled
    /// (a hub shutting down must end its leader session, or the lock stays with a dead hub), waiting at most two
    /// seconds: a connection whose server vanished may never confirm.
    func close(_ connection: PostgresConnection) async {
        if await !finishDetached(within: .seconds(2), { try? await connection.close() }) {
            logger.warning("a PostgreSQL connection did not confirm its close within 2 s; going on")
        }
    }

    /// Opens a dedicated connection (notifications, leadership), giving up after the query deadline.
    func connect(id: Int) async throws -> PostgresConnection {
        let (configuration, logger) = (endpoint.connectionConfiguration, self.logger)
        let connecting = Task { try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger) }
        do {
            return try await withDeadline(Self.queryDeadline, "connecting to PostgreSQL") { try await connecting.value }
        } catch {
            // A connection that arrives after the deadline must still be closed (PostgresNIO insists).
            Task.detached { if let late = try? await connecting.value { try? await late.close() } }
            throw error
        }
    }

    /// Seconds a leader's session may stay idle (it pings every second) before another hub ends it.
    static let staleLeaderSeconds: Double = 5

    /// How long a query of the control loops may take before the loop gives up on its connection.
    static let queryDeadline: Duration = .seconds(5)

    /// Waits for the leader lock on `connection`, then leads until the session or the task ends.
    private func lead(on connection: PostgresConnection) async throws {
        let logger = self.logger
        var attempts = 0
        while !Task.isCancelled {
            let acquired = try await withDeadline(Self.queryDeadline, "the leader lock query") {
                let rows = try await connection.query("SELECT pg_try_advisory_lock(\(Self.leaderLockKey))", logger: logger)
                var acquired = false
                for try await value in rows.decode(Bool.self) { acquired = value }
                return acquired
            }
            if acquired { break }
            attempts += 1
            if attempts % 20 == 0 { logger.info("another hub leads; waiting for the leader lock", metadata: ["meridian.attempts": "\(attempts)"]) }
            // A leader pings its session every second. A holder idle for longer than the stale limit is a dead hub
            // whose session PostgreSQL has not noticed (a vanished host, a stopped process whose connection lingers):
            // end that session, which releases the lock. (The candidates are materialised first: in one WHERE clause
            // PostgreSQL may call pg_terminate_backend before the other conditions have filtered the rows.)
            let ended = try await withDeadline(Self.queryDeadline, "ending a stale leader session") {
                let rows = try await connection.query("""
                    WITH stale AS MATERIALIZED (
                        SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                        WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = \(Self.leaderLockKey)::oid
                          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                          AND a.pid <> pg_backend_pid() AND a.state = 'idle'
                          AND a.state_change < now() - make_interval(secs => \(Self.staleLeaderSeconds))
                    )
                    SELECT pid FROM stale WHERE pg_terminate_backend(pid)
                    """, logger: logger)
                var pids: [Int32] = []
                for try await pid in rows.decode(Int32.self) { pids.append(pid) }
                return pids
            }
            if !ended.isEmpty {
                logger.warning("ended the session of a leader that stopped answering; taking over", metadata: ["meridian.postgres.pids": "\(ended)"])
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        try Task.checkCancellation()
        // Another leader may have published meanwhile: start from a full compile, compared by hash.
        incremental.withLock { $0 = IncrementalRouter() }
        state.withLock { $0.isLeader = true; $0.lastPublishAt = nil }
        let leaderGauge = metrics.makeGauge(descriptor: Self.metric("leader", "", "1 while this hub leads"))
        leaderGauge.set(Double(1))
        logger.info("this hub leads: it publishes tables and runs the failure detector")
        defer {
            state.withLock { $0.isLeader = false }
            leaderGauge.set(Double(0))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.recomputeLoop() }
            group.addTask { try await self.detectorLoop() }
            group.addTask {
                // The lock lives as long as this session; if the session dies or stops answering, leadership ends
                // here too (a query in flight when PostgreSQL shuts down can hang rather than fail).
                while true {
                    try await Task.sleep(for: .seconds(1))
                    try await withDeadline(Self.queryDeadline, "the leader session's ping") {
                        _ = try await connection.query("SELECT 1", logger: logger)
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    private func recomputeLoop() async throws {
        let (triggers, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        trigger.withLock { $0 = continuation }
        defer {
            continuation.finish()
            trigger.withLock { $0 = nil }
        }
        continuation.yield()
        for await _ in triggers {
            // Coalesce a burst of changes into one recompute.
            try await Task.sleep(for: .milliseconds(15))
            do {
                try await recompute()
            } catch is CancellationError {
                return
            } catch {
                logger.error("recompute failed", metadata: ["meridian.error": "\(error)"])
                try await Task.sleep(for: .milliseconds(200))
                continuation.yield()
            }
        }
    }

    private func detectorLoop() async throws {
        let detector = FailureDetector(heartbeatTimeout: configuration.heartbeatTimeout)
        var ticks = 0
        while true {
            try await Task.sleep(for: .seconds(configuration.detectorInterval))
            ticks += 1
            do {
                let store = self.store
                let (now, clusters, probes) = try await withDeadline(Self.databaseDeadline, "the failure detector's reads") {
                    (try await store.now(), try await store.clusters(ClusterFilter(limit: 1000)).items, try await store.probes())
                }
                for transition in detector.evaluate(clusters: clusters, probes: probes, now: now) {
                    let changed = try await withDeadline(Self.databaseDeadline, "recording a cluster's status") {
                        try await store.setClusterStatus(transition.cluster, transition.status, reason: transition.reason)
                    }
                    if changed {
                        logger.warning("cluster \(transition.status == .down ? "DOWN" : "UP")", metadata: [
                            "meridian.cluster": "\(transition.cluster)", "meridian.reason": "\(transition.reason)"])
                        metrics.makeCounter(descriptor: Self.metric("cluster_transitions", "total", "Clusters marked down or up by the failure detector"),
                                            labels: [("status", transition.status.rawValue)]).increment()
                    }
                }
            } catch {
                logger.error("failure detector pass failed", metadata: ["meridian.error": "\(error)"])
            }
            // Measured RTTs drift without a notification; refresh every ten passes.
            if ticks % 10 == 0 { requestRecompute() }
        }
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
    var milliseconds: Double { Double(nanoseconds) / 1_000_000 }
}

/// Cluster names whose tables changed, collected between two loads.
final class PendingNames: Sendable {
    private let names = Mutex(Set<String>())
    func insert(_ name: String) { names.withLock { _ = $0.insert(name) } }
    func take() -> Set<String> { names.withLock { names in defer { names.removeAll() }; return names } }
}
