import Logging
import MeridianPKI
import MeridianModel
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import Prometheus

/// The data plane of one event loop: its copy of the routing table, its warm connections (one HTTP/2 connection per
/// peer, h2c connections and HTTP/1.1 keep-alive connections to local endpoints), its round-robin and retry-budget
/// state, and its metric handles.
///
/// Every connection a request uses lives on the same event loop as the client's connection, so bytes move from one
/// channel to the other by plain calls. Confined to `eventLoop`; `@unchecked Sendable` so that channel initializers
/// and the control plane's `eventLoop.execute` can reach it.
final class ForwardingWorker: @unchecked Sendable {
    let eventLoop: any EventLoop
    let context: DataPlaneContext
    private(set) var table: CompiledTable?
    /// The round-robin state of each route of `table`, by ``CompiledTable/Route/index``.
    private var rotations: [RouteRotation] = []
    private var retryBudget: RetryBudget
    private var random = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
    private(set) var peers: [String: HTTP2Connection] = [:]
    private var h2cEndpoints: [String: HTTP2Connection] = [:]
    /// HTTP/1.1 connections per local endpoint address: one lookup per request and per check-in (three dictionaries
    /// by address, and the round-robin cursor, took six String lookups per request, now three: about 1,200 instructions).
    private var http1Pools: [String: HTTP1Pool] = [:]
    /// Closes idle HTTP/1.1 connections past `upstreamIdleTimeout`; scheduled while any are idle (one timer per loop
    /// rather than one per check-in, which is every request).
    private var idleSweep: Scheduled<Void>?
    /// The sweep that closes idle HTTP/1.1 client connections.
    private var clientIdleSweep: Scheduled<Void>?
    /// Each exported service's local endpoints, with their pools, health records and round-robin position: one lookup
    /// per request reaches them all (by name, the endpoints, the cursor, each endpoint's health and its pool, at
    /// check-out and check-in, were six lookups).
    private var localServices: [String: LocalService] = [:]
    /// Each label set's request counter and latency histogram (the histogram has no status label; ``GatewayMetrics``
    /// hands every status of one label set the same one), found with one lookup per request.
    private var requestMetrics: [RequestMetricKey: RequestMetrics] = [:]
    /// The label set of the last request and its metrics: the next request nearly always has the same, and comparing
    /// its strings costs less than hashing them (about 700 instructions).
    private var lastRequestMetrics: RequestMetrics?
    private var retryCounters: [String: Counter] = [:]
    /// The last tunnel request admitted, and its plan: the next request with the same table, caller, service and
    /// requested class (a peer's requests mostly repeat them) gets the same plan without the four lookups by name and
    /// the policy's checks (about 2,000 instructions per request). A refusal is never kept.
    private var lastTunnelAdmission: KeptAdmission?
    /// The same for a local client's request that took the common path (a route with a destination): the next with
    /// the same table, service and requested class gets the same plan (`caller` is `nil`).
    private var lastLocalAdmission: KeptAdmission?
    private var closed = false
    /// Accepted HTTP/2 connections (tunnel and h2c), for GOAWAY on drain.
    private var inboundHTTP2: [ObjectIdentifier: any Channel] = [:]
    /// Accepted HTTP/1.1 connections' handlers, to close idle ones on drain.
    /// (In slots, each handler knowing its own, freed slots reused: a dictionary by channel, and a callback on each
    /// channel's close future to leave it, cost about 2,500 instructions per connection.)
    private var inboundHTTP1 = HandlerSlots()
    /// Accepted h2c connections' stream counters, for the idle sweep.
    private var idleWatchedHTTP2: [ObjectIdentifier: HTTP2StreamMux] = [:]
    private(set) var draining = false
    /// The timeouts of this loop's exchanges.
    let deadlines: ExchangeDeadlines
    /// The last client request head's fields, shared by the worker's HTTP/1.1 client connections (``HTTP1FieldsMemo``).
    let requestFieldsMemo = HTTP1FieldsMemo()

    struct RequestMetricKey: Hashable {
        var source: String
        var destination: String
        var service: String
        var status: Int
    }

    /// Idle HTTP/1.1 connections kept per local endpoint.
    private static let maxIdlePerEndpoint = 128

    init(eventLoop: any EventLoop, context: DataPlaneContext) {
        self.eventLoop = eventLoop
        self.context = context
        deadlines = ExchangeDeadlines(eventLoop: eventLoop)
        retryBudget = RetryBudget(ratio: context.configuration.resilience.retryBudgetRatio,
                                  minimumPerSecond: context.configuration.resilience.retryBudgetMinimumPerSecond)
        for (service, endpoints) in context.localEndpoints {
            localServices[service] = LocalService(endpoints: endpoints.map { endpoint in
                LocalEndpointSlot(endpoint: endpoint, pool: http1Pool(endpoint.address), health: context.health.cell(endpoint.healthKey))
            })
        }
    }

    private var localCluster: String { table?.localCluster ?? context.configuration.cluster }

    // MARK: Table

    /// Applies a table: new routes for the next request, and a warm connection to every peer it names (connections
    /// to peers that left or moved are closed; streams on them finish first where they can).
    func install(_ compiled: CompiledTable) {
        eventLoop.assertInEventLoop()
        guard !closed else { return }
        table = compiled
        lastTunnelAdmission = nil
        lastLocalAdmission = nil
        rotations = Array(repeating: RouteRotation(), count: compiled.routeList.count)
        let wanted = compiled.peers.filter { $0.key != compiled.localCluster }
        for (cluster, connection) in peers {
            if let peer = wanted[cluster], HostPort.format(host: connection.host, port: connection.port) == peer.address { continue }
            if connection.isReady { context.peerConnectivity(cluster, up: false) }
            connection.close()
            peers[cluster] = nil
        }
        for peer in wanted.values.sorted(by: { $0.cluster < $1.cluster }) where peers[peer.cluster] == nil {
            guard let (host, port) = HostPort.parse(peer.address) else {
                context.logger.error("peer address is not HOST:PORT", metadata: ["meridian.peer": "\(peer.cluster)", "meridian.address": "\(peer.address)"])
                continue
            }
            let connection = HTTP2Connection(
                name: peer.cluster, host: host, port: port, eventLoop: eventLoop,
                security: .mutualTLS(tls: context.tls, verifier: context.verifier, expectedCluster: peer.cluster),
                connectTimeout: context.configuration.connectTimeout.timeAmount,
                maxConcurrentStreams: context.configuration.resilience.maxConcurrentStreamsPerPeer,
                maxPending: context.configuration.resilience.maxPendingPerPeer, window: context.configuration.http2Window,
                maximumWindow: context.configuration.http2WindowMax,
                windowChanged: { [growths = context.metrics.tunnelWindowGrowths, gauge = context.metrics.tunnelWindow(peer.cluster, outgoing: true)] window, grew in
                    if grew { growths.increment() }
                    gauge.set(Double(window))
                }, logger: context.logger)
            let cluster = peer.cluster
            connection.health = context.health.cell(cluster)
            let gauge = context.metrics.peerActiveStreams(cluster)
            connection.onStateChange = { [context] up in context.peerConnectivity(cluster, up: up) }
            connection.onStreamCountChange = { delta in gauge.increment(by: Double(delta)) }
            peers[cluster] = connection
            connection.start()
        }
    }

    /// Closes every connection this worker holds.
    func shutdown() {
        eventLoop.assertInEventLoop()
        closed = true
        for connection in peers.values { connection.close() }
        for connection in h2cEndpoints.values { connection.close() }
        for pool in http1Pools.values { for handler in pool.idle { handler.channel?.close(promise: nil) } }
        idleSweep?.cancel()
        idleSweep = nil
        clientIdleSweep?.cancel()
        clientIdleSweep = nil
        peers.removeAll()
        h2cEndpoints.removeAll()
        var waiting: [UpstreamWait] = []
        for pool in http1Pools.values { while let waiter = pool.waiting.popFirst() { waiting.append(waiter) } }
        http1Pools.removeAll()
        for waiter in waiting { waiter(.failure(UpstreamConnectError(kind: .closed, message: "the gateway is shutting down"))) }
    }

    // MARK: Inbound connections

    /// Remembers an accepted HTTP/2 connection until it closes; with `idle` (a local h2c client's mux), the idle
    /// sweep closes it once it has had no stream for the idle timeout.
    func trackInbound(http2 channel: any Channel, idle: HTTP2StreamMux? = nil) {
        let key = ObjectIdentifier(channel)
        if draining {
            HTTP2StreamMux.announceShutdown(on: channel)
        }
        inboundHTTP2[key] = channel
        idle?.watchesIdle = true
        idleWatchedHTTP2[key] = idle
        channel.closeFuture.assumeIsolated().whenComplete { _ in
            self.inboundHTTP2[key] = nil
            self.idleWatchedHTTP2[key] = nil
        }
        if idle != nil { scheduleClientIdleSweep() }
    }

    /// Remembers an HTTP/1.1 client connection's handler until ``untrackInbound(http1:)`` (its removal from the
    /// pipeline, which every close does).
    func trackInbound(http1 handler: DownstreamHandler) {
        inboundHTTP1.insert(handler)
        scheduleClientIdleSweep()
    }

    func untrackInbound(http1 handler: DownstreamHandler) {
        inboundHTTP1.remove(handler)
    }

    /// Every half idle timeout while local clients are connected: closes HTTP/1.1 connections with no request in
    /// flight, and h2c connections with no open stream, since the idle timeout or longer (so one closes between 1 and
    /// 1.5 timeouts after its last request). One timer per loop, where `IdleStateHandler` would reset a timer on every
    /// read and write of every connection.
    private func scheduleClientIdleSweep() {
        guard clientIdleSweep == nil else { return }   // (before the closure is made: it is allocated)
        scheduleSweep(.clientIdle, timeout: context.configuration.idleTimeout.timeAmount) { expired in
            let stale = self.inboundHTTP1.handlers.filter { $0.isIdle && $0.lastActive <= expired }
            for handler in stale { handler.closeIdle() }
            let staleHTTP2 = self.idleWatchedHTTP2.values.filter { $0.isIdle && $0.idleSince <= expired }
            for mux in staleHTTP2 { mux.closeIfIdle() }
            return !self.inboundHTTP1.isEmpty || !self.idleWatchedHTTP2.isEmpty
        }
    }

    /// The two sweeps, each with its pending run.
    private enum Sweep {
        case upstreamIdle, clientIdle
    }

    private func pendingSweep(_ sweep: Sweep) -> Scheduled<Void>? {
        switch sweep {
        case .upstreamIdle: idleSweep
        case .clientIdle: clientIdleSweep
        }
    }

    private func setPendingSweep(_ sweep: Sweep, _ scheduled: Scheduled<Void>?) {
        switch sweep {
        case .upstreamIdle: idleSweep = scheduled
        case .clientIdle: clientIdleSweep = scheduled
        }
    }

    /// Runs `sweep` every half `timeout` (at least every millisecond) while it returns `true` (something is left to
    /// watch), with the instant before which an entry has been idle too long; one run of each `kind` is pending at a
    /// time. (A switch, not a key path: a check-in asks on every request, and reading through a key path cost about
    /// 800 instructions.)
    private func scheduleSweep(_ kind: Sweep, timeout: TimeAmount, _ sweep: @escaping (NIODeadline) -> Bool) {
        guard pendingSweep(kind) == nil, !closed else { return }
        setPendingSweep(kind, eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(max(timeout.nanoseconds / 2, 1_000_000))) {
            self.setPendingSweep(kind, nil)
            if sweep(NIODeadline.now() - timeout) { self.scheduleSweep(kind, timeout: timeout, sweep) }
        })
    }

    /// Graceful shutdown: HTTP/2 clients and peers get a GOAWAY (no new streams; those in flight finish), idle
    /// HTTP/1.1 connections close, busy ones close after their response.
    func startDraining() {
        eventLoop.assertInEventLoop()
        draining = true
        for channel in inboundHTTP2.values { HTTP2StreamMux.announceShutdown(on: channel) }
        for handler in inboundHTTP1.handlers { handler.drain() }
    }

    /// The second phase of draining, once clients have had time to see the first GOAWAY: each HTTP/2 client learns
    /// the last stream that will be served; any later one is refused (never processed, so it may be retried).
    func finishDraining() {
        eventLoop.assertInEventLoop()
        for channel in inboundHTTP2.values { HTTP2StreamMux.finishShutdown(on: channel) }
    }

    // MARK: Admission

    /// Decides what to do with a request head: returns an exchange to start, or answers at once (refusal) and
    /// returns `nil`.
    func admit(_ head: consuming RequestHead, from downstream: DownstreamHandler) -> ProxyExchange? {
        // The access record is made where it is used (a record made before the decision and handed to the exchange
        // was copied: a retain and a release of each of its strings).
        // (What it reads of the head is read here: the head itself is consumed once admitted.)
        let (method, path) = (head.method.name, head.uri)
        func record(service: String?, dataClass: String?, reason: String, sent: Traceparent? = nil, received: String? = nil) -> AccessRecord {
            AccessRecord(
                listener: downstream.listener.rawValue, method: method, path: path, service: service, dataClass: dataClass,
                source: context.configuration.cluster, caller: downstream.callerCluster, destination: nil, endpoint: nil, level: nil,
                reason: reason, tableVersion: table?.version, status: 0, attempts: 0, durationSeconds: 0, requestBytes: 0,
                responseBytes: 0, sentTraceparent: sent, receivedTraceparent: received, error: nil)
        }
        let outcome: Admission
        switch downstream.listener {
        case .local: outcome = planLocal(head)
        case .tunnel: outcome = planTunnel(head, downstream: downstream)
        }
        switch outcome {
        case .refused(let refusal):
            if let probe = refusal.probeBody {
                downstream.respondProbe(probe, version: head.version)
                return nil
            }
            let close = !downstream.isHTTP2Stream && (!head.headers.keepsAlive(version: head.version) || head.hasBody)
            downstream.respond(refusal.error, decision: "\(refusal.decision); table=\(table.map { String($0.version) } ?? "none")",
                               version: head.version, close: close)
            var refused = record(service: refusal.service, dataClass: refusal.dataClass, reason: refusal.decision,
                                 received: head.headers.first(.traceparent))
            refused.status = refusal.error.status
            refused.error = refusal.error.message
            account(refused, listener: downstream.listener)
            return nil
        case .admitted(let decision):
            let (plan, sourceCluster) = (decision.plan, decision.source)
            // Read on the field's bytes, and held inline: no string is made of the incoming value or of the new one.
            let traceparent = if let index = head.headers.firstIndex(.traceparent) {
                head.headers.withValue(at: index) { TraceContext.nextTraceparentValue(afterBytes: $0, using: &random) }
            } else {
                TraceContext.nextTraceparentValue(afterBytes: nil, using: &random)
            }
            let admitted = record(service: plan.service, dataClass: plan.dataClass, reason: "", sent: traceparent)
            let request = ProxyExchange.Request(head)
            // The client's head becomes the upstream's, changed in place (this is its last reader).
            var upstreamHead = consume head
            upstreamHead.headers.relay(sourceCluster: sourceCluster, service: plan.service, dataClass: plan.dataClass, traceparent: traceparent)
            let now = NIODeadline.now()   // (one reading of the clock for both)
            retryBudget.recordRequest(at: now)
            context.requestStarted(listener: downstream.listener)
            return ProxyExchange(worker: self, downstream: downstream, request: request, upstreamHead: upstreamHead, plan: plan, record: admitted,
                                 started: now)
        }
    }

    /// A request from a local client names at most one authority, with only the characters a host and port may have,
    /// and an HTTP/1.1 request names one (RFC 9112 section 3.2: a server answers 400 otherwise). It is relayed as the
    /// endpoint's `host` or `:authority`. (An h2c client's request may leave `:authority` out.) Its transfer coding,
    /// if any, is `chunked` alone (``HeaderFields/unsupportedTransferCoding``: 501 otherwise). One pass over the fields.
    static func checkLocalHead(_ headers: HeaderFields, version: HTTPVersion = .http2) -> Refusal? {
        var host: Int?
        var coding: String?
        for index in headers.entries.indices {
            switch headers.known(at: index) {
            case .host:
                guard host == nil else {
                    return Refusal(error: APIError(status: 400, code: .invalidField, message: "the request has more than one host field: send one",
                                                   field: "host"), decision: "bad-request")
                }
                host = index
            case .transferEncoding where coding == nil && !headers.withValue(at: index, HeaderFields.isChunkedOnly(bytes:)):
                coding = headers.value(at: index)
            default:
                break
            }
        }
        if let host {
            // Checked on the value's bytes: a string is made for the refusal only.
            guard headers.withValue(at: host, RequestTarget.isValidAuthority(_:)) else {
                return Refusal(error: APIError(status: 400, code: .invalidField,
                                               message: "host '\(headers.value(at: host))' is not a host and port (RFC 3986 allows letters, digits and -._~!$&'()*+,;=%:[]): remove the other characters",
                                               field: "host"), decision: "bad-request")
            }
        } else if version == .http1_1 {
            return Refusal(error: APIError(status: 400, code: .missingField, message: "an HTTP/1.1 request names its authority: send a host field",
                                           field: "host"), decision: "bad-request")
        }
        guard let coding else { return nil }
        return Refusal(error: APIError(status: 501, code: .invalidField,
                                       message: "transfer coding '\(coding)' cannot cross the mesh (HTTP/2 has none): send the body with content-length or transfer-encoding: chunked, and compress it with content-encoding",
                                       field: "transfer-encoding"), decision: "bad-request")
    }

    /// Why a request is answered by the gateway itself.
    struct Refusal: Error {
        var error: APIError
        var decision: String
        var service: String?
        var dataClass: String?
        var probeBody: String?
    }

    /// What admission decided: a plan, with the cluster the request counts as coming from, or a refusal. (Named types,
    /// here and for the kept admissions: as `Result<(ForwardPlan, String), Refusal>` and tuples they were copied
    /// through the runtime's generic tuple witnesses.)
    enum Admission {
        /// One payload, not two: a two-field payload was copied out through the runtime's generic tuple witness.
        case admitted(Admitted)
        case refused(Refusal)

        struct Admitted {
            var plan: ForwardPlan
            /// The cluster the request counts as coming from.
            var source: String
        }

        static func admitted(_ plan: consuming ForwardPlan, source: consuming String) -> Admission {
            .admitted(Admitted(plan: plan, source: source))
        }
    }

    /// An admission kept for the next request (``lastTunnelAdmission``, ``lastLocalAdmission``). A class: read in
    /// place on every request (as a value it was copied out first, a retain of each of its fields, then destroyed).
    final class KeptAdmission {
        let table: CompiledTable
        let caller: String?
        let service: String
        let requestedClass: String?
        let plan: ForwardPlan

        init(table: CompiledTable, caller: String?, service: String, requestedClass: String?, plan: ForwardPlan) {
            self.table = table
            self.caller = caller
            self.service = service
            self.requestedClass = requestedClass
            self.plan = plan
        }

        /// The plan, for a request with the same table and caller whose head names the same service and requested
        /// class (``RequestTarget/names(_:service:requestedClass:)``, on the fields' bytes).
        func plan(table: CompiledTable, caller: String?, head: borrowing RequestHead) -> ForwardPlan? {
            guard self.table === table, self.caller == caller,
                  RequestTarget.names(head, service: service, requestedClass: requestedClass) else { return nil }
            return plan
        }
    }

    private func planLocal(_ head: RequestHead) -> Admission {
        if let refusal = Self.checkLocalHead(head.headers, version: head.version) { return .refused(refusal) }
        // The last local request's plan, for the next with the same table, service and requested class, told on the
        // fields' bytes (the target's strings are made only when it is not the same).
        if let table, let kept = lastLocalAdmission, let plan = kept.plan(table: table, caller: nil, head: head) {
            return .admitted(plan, source: table.localCluster)
        }
        guard let target = RequestTarget(head: head) else {
            return .refused(Refusal(error: APIError(status: 400, code: .missingField,
                                                    message: "name the service in the authority (SERVICE.meridian) or the '\(RequestTarget.Header.service)' header",
                                                    field: RequestTarget.Header.service), decision: "bad-request"))
        }
        guard let table else {
            return .refused(Refusal(error: APIError(status: 503, code: .unavailable, message: "the gateway has no routing table yet"),
                                    decision: "no-table", service: target.service))
        }
        // The common case with one lookup: a service, a class the policy defines, a route with a destination. Anything
        // else takes the checks below, which name what is wrong.
        if let service = table.services[target.service], let dataClass = target.requestedClass ?? service.defaultClass,
           let route = service.route(dataClass), route.entry.refusal == nil, !route.levels.isEmpty {
            let plan = ForwardPlan(scope: .route(route), service: target.service, dataClass: dataClass, timeout: route.timeout)
            lastLocalAdmission = KeptAdmission(table: table, caller: nil, service: target.service, requestedClass: target.requestedClass, plan: plan)
            return .admitted(plan, source: table.localCluster)
        }
        let policy = table.table.policy
        guard let dataClass = target.requestedClass ?? policy.defaultClass(forService: target.service) else {
            return .refused(Refusal(error: APIError(status: 400, code: .missingField,
                                                    message: "service '\(target.service)' has no default data class: send the '\(RequestTarget.Header.dataClass)' header",
                                                    field: RequestTarget.Header.dataClass), decision: "bad-request", service: target.service))
        }
        guard policy.classes[dataClass] != nil else {
            return .refused(Refusal(error: APIError(status: 400, code: .invalidField,
                                                    message: "data class '\(dataClass)' is not defined by policy '\(policy.name)' (known: \(policy.classes.keys.sorted().joined(separator: ", ")))",
                                                    field: RequestTarget.Header.dataClass), decision: "bad-request", service: target.service, dataClass: dataClass))
        }
        let key = RouteKey(service: target.service, dataClass: dataClass)
        guard let route = table.route(key) else {
            return .refused(Refusal(error: APIError(status: 404, code: .noRoute,
                                                    message: "no route for service '\(target.service)' with data class '\(dataClass)' from cluster '\(table.localCluster)'",
                                                    field: RequestTarget.Header.service), decision: "no-route", service: target.service, dataClass: dataClass))
        }
        if let refusal = route.entry.refusal {
            let code: APIError.Code = refusal.status == 451 ? .residencyRefused : .unavailable
            return .refused(Refusal(error: APIError(status: refusal.status, code: code, message: refusal.reason,
                                                    field: refusal.status == 451 ? RequestTarget.Header.dataClass : nil),
                                    decision: "refused", service: target.service, dataClass: dataClass))
        }
        guard !route.levels.isEmpty else {
            let forbidden = !route.forbidden.isEmpty
            return .refused(Refusal(error: APIError(status: forbidden ? 451 : 503, code: forbidden ? .residencyRefused : .unavailable,
                                                    message: forbidden
                                                        ? "data class '\(dataClass)' may not leave for \(route.forbidden.joined(separator: ", ")) under policy '\(policy.name)'"
                                                        : "the route for '\(target.service)' has no destination",
                                                    field: forbidden ? RequestTarget.Header.dataClass : nil),
                                    decision: forbidden ? "forbidden" : "no-destination", service: target.service, dataClass: dataClass))
        }
        return .admitted(ForwardPlan(scope: .route(route), service: target.service, dataClass: dataClass, timeout: route.timeout),
                         source: table.localCluster)
    }

    private func planTunnel(_ head: RequestHead, downstream: DownstreamHandler) -> Admission {
        guard let callerCluster = downstream.callerCluster else {
            return .refused(Refusal(error: APIError(status: 403, code: .forbidden, message: "the tunnel peer has no verified identity"), decision: "forbidden"))
        }
        if head.uri == "/meridian/probe" {
            return .refused(Refusal(error: APIError(status: 200, code: .init(rawValue: "ok"), message: ""), decision: "probe",
                                    probeBody: #"{"cluster":"# + JSONText.quote(context.configuration.cluster) + #","tableVersion":\#(table?.version ?? -1)}"#))
        }
        guard let table else {
            return .refused(Refusal(error: APIError(status: 503, code: .unavailable, message: "the destination gateway has no routing table yet"), decision: "no-table"))
        }
        if let kept = lastTunnelAdmission, let plan = kept.plan(table: table, caller: callerCluster, head: head) {
            return .admitted(plan, source: callerCluster)
        }
        guard let target = RequestTarget(head: head) else {
            return .refused(Refusal(error: APIError(status: 400, code: .missingField, message: "the tunnel request names no service",
                                                    field: RequestTarget.Header.service), decision: "bad-request"))
        }
        let policy = table.table.policy
        let serviceEntry = table.services[target.service]
        guard let dataClass = target.requestedClass ?? serviceEntry?.defaultClass ?? policy.defaultClass(forService: target.service) else {
            return .refused(Refusal(error: APIError(status: 400, code: .missingField, message: "the tunnel request names no data class",
                                                    field: RequestTarget.Header.dataClass), decision: "bad-request", service: target.service))
        }
        guard serviceEntry?.allowsCaller(callerCluster) ?? policy.allowsCaller(callerCluster, service: target.service) else {
            return .refused(Refusal(error: APIError(status: 403, code: .callerNotAllowed,
                                                    message: "cluster '\(callerCluster)' may not call service '\(target.service)' under policy '\(policy.name)'"),
                                    decision: "caller-not-allowed", service: target.service, dataClass: dataClass))
        }
        guard let origin = table.peers[callerCluster] else {
            return .refused(Refusal(error: APIError(status: 403, code: .callerNotAllowed,
                                                    message: "cluster '\(callerCluster)' is not in this gateway's routing table"),
                                    decision: "unknown-caller", service: target.service, dataClass: dataClass))
        }
        guard policy.permits(dataClass: dataClass, origin: origin.jurisdiction, destination: table.table.local.jurisdiction) else {
            return .refused(Refusal(error: APIError(status: 451, code: .residencyRefused,
                                                    message: "data class '\(dataClass)' from \(origin.jurisdiction) may not be processed in \(table.table.local.jurisdiction) (cluster '\(table.localCluster)') under policy '\(policy.name)'",
                                                    field: RequestTarget.Header.dataClass),
                                    decision: "refused", service: target.service, dataClass: dataClass))
        }
        guard let service = localServices[target.service], !service.endpoints.isEmpty else {
            return .refused(Refusal(error: APIError(status: 503, code: .unavailable,
                                                    message: "cluster '\(table.localCluster)' has no local endpoint for service '\(target.service)'"),
                                    decision: "no-endpoint", service: target.service, dataClass: dataClass))
        }
        let timeout = (serviceEntry.map { $0.route(dataClass) } ?? table.route(RouteKey(service: target.service, dataClass: dataClass)))?.timeout
            ?? context.configuration.defaultRequestTimeout.timeAmount
        let plan = ForwardPlan(scope: .localOnly(service), service: target.service, dataClass: dataClass, timeout: timeout)
        lastTunnelAdmission = KeptAdmission(table: table, caller: callerCluster, service: target.service, requestedClass: target.requestedClass, plan: plan)
        return .admitted(plan, source: callerCluster)
    }

    // MARK: Choosing and opening upstreams

    /// The next destination for a request, or `nil` when every one was tried.
    func nextTarget(_ plan: ForwardPlan, tried: inout TriedDestinations) -> UpstreamTarget? {
        let local = localCluster
        switch plan.scope {
        case .localOnly(let service):
            guard let slot = pickLocal(service, excluding: tried.endpoints) else { return nil }
            tried.endpoints.append(slot.endpoint.address)
            return .local(cluster: local, slot: slot, level: nil, reason: "local")
        case .route(let route):
            while true {
                let triedEndpoints = tried.endpoints
                let service = plan.service
                // Closures passed as arguments, not one kept in a constant: that one's context was allocated on the
                // heap, on every request.
                let choice: RouteChoice?
                if route.index < rotations.count, let table, table.routeList[route.index] === route {
                    choice = rotations[route.index].choose(levels: route.levels, excluding: tried.clusters) {
                        self.availability(of: $0, service: service, triedEndpoints: triedEndpoints)
                    }
                } else {
                    // A retry of a request admitted under an earlier table: that table's rotation is gone.
                    var rotation = RouteRotation()
                    choice = rotation.choose(levels: route.levels, excluding: tried.clusters) {
                        self.availability(of: $0, service: service, triedEndpoints: triedEndpoints)
                    }
                }
                guard let choice else { return nil }
                if choice.cluster == local {
                    if let service = localServices[plan.service], let slot = pickLocal(service, excluding: tried.endpoints) {
                        tried.endpoints.append(slot.endpoint.address)
                        return .local(cluster: local, slot: slot, level: choice.level, reason: choice.reason)
                    }
                    tried.clusters.append(local)
                    continue
                }
                tried.clusters.append(choice.cluster)
                let connection = peers[choice.cluster]
                return .peer(cluster: choice.cluster, connection: connection, health: connection?.health ?? context.health.cell(choice.cluster),
                             level: choice.level, reason: choice.reason)
            }
        }
    }

    private func availability(of cluster: String, service: String, triedEndpoints: TriedNames) -> Double? {
        if cluster == localCluster {
            guard let service = localServices[service] else { return nil }
            return service.endpoints.contains { !triedEndpoints.contains($0.endpoint.address) && !context.health.isEjected($0.health) } ? 1 : nil
        }
        guard let connection = peers[cluster], connection.isUsable, let health = connection.health else { return nil }
        return context.health.availability(health)
    }

    /// Round-robin over a service's local endpoints, skipping tried and ejected ones (an ejected one still serves
    /// when nothing else is left).
    private func pickLocal(_ service: LocalService, excluding: TriedNames) -> LocalEndpointSlot? {
        let endpoints = service.endpoints
        guard !endpoints.isEmpty else { return nil }
        let start = service.cursor
        service.cursor = start &+ 1
        var fallback: LocalEndpointSlot? = nil
        for offset in 0..<endpoints.count {
            let slot = endpoints[(start &+ offset) % endpoints.count]
            if excluding.contains(slot.endpoint.address) { continue }
            if context.health.isEjected(slot.health) {   // (the clock read only for an endpoint with failures on record)
                if fallback == nil { fallback = slot }
                continue
            }
            return slot
        }
        return fallback
    }

    /// Gets a stream or connection to `wait.target` and tells `wait.waiter` on this loop (perhaps before this returns).
    func openUpstream(_ wait: UpstreamWait, grpc: Bool) {
        let target = wait.target
        switch target.kind {
        case .peer(let connection):
            guard let connection else {
                wait(.failure(UpstreamConnectError(kind: .unavailable, message: "no connection to peer '\(target.cluster)'")))
                return
            }
            connection.openStream(UpstreamHandler(kind: .stream), for: wait)
        case .local(let slot):
            if slot.endpoint.wireProtocol == .h2c || grpc {
                h2cConnection(for: slot.endpoint).openStream(UpstreamHandler(kind: .stream), for: wait)
            } else {
                acquireHTTP1(slot, for: wait)
            }
        }
    }

    private func h2cConnection(for endpoint: LocalEndpoint) -> HTTP2Connection {
        if let connection = h2cEndpoints[endpoint.address] { return connection }
        let connection = HTTP2Connection(
            name: "h2c://\(endpoint.address)", host: endpoint.host, port: endpoint.port, eventLoop: eventLoop, security: .cleartext,
            connectTimeout: context.configuration.connectTimeout.timeAmount,
            maxConcurrentStreams: context.configuration.resilience.maxConcurrentStreamsPerPeer,
            maxPending: context.configuration.resilience.maxPendingPerPeer, window: context.configuration.http2Window,
            logger: context.logger)
        h2cEndpoints[endpoint.address] = connection
        connection.start()
        return connection
    }

    private func acquireHTTP1(_ slot: LocalEndpointSlot, for wait: UpstreamWait) {
        let pool = slot.pool
        while let handler = pool.idle.popLast() {
            if handler.isActive {
                wait(.success(handler))
                return
            }
        }
        let limits = context.configuration.resilience
        let open = pool.open
        guard open < limits.maxConnectionsPerEndpoint else {
            // Circuit breaking: wait for a connection to be checked in or closed, or overflow.
            let waiting = pool.waiting.count
            guard waiting < limits.maxPendingPerPeer else {
                wait(.failure(UpstreamConnectError(
                    kind: .overflow,
                    message: "local endpoint \(slot.endpoint): \(open) connections open (the limit) and \(waiting) requests waiting (the limit)")))
                return
            }
            pool.waiting.append(wait)
            return
        }
        connectHTTP1(slot, for: wait)
    }

    private func connectHTTP1(_ slot: LocalEndpointSlot, for wait: UpstreamWait) {
        slot.pool.open += 1
        let endpoint = slot.endpoint
        let boundSlot = NIOLoopBound(slot, eventLoop: eventLoop)   // (the channel is on this loop)
        ClientBootstrap(group: eventLoop)
            .connectTimeout(context.configuration.connectTimeout.timeAmount)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.initializing {
                    // One handler: it parses the responses (HTTP1Parser), and checks, frames and encodes each
                    // request part (HTTP1RequestEncoder). A handler per channel: NIO may try several of the
                    // endpoint's addresses at once (happy eyeballs).
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler(kind: .connection(boundSlot.value)))
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    channel.closeFuture.assumeIsolated().whenComplete { _ in self.http1Closed(slot) }
                    guard let handler = try? channel.pipeline.syncOperations.handler(type: UpstreamHandler.self) else {
                        channel.close(promise: nil)
                        wait(.failure(UpstreamConnectError(kind: .unavailable, message: "the connection to local endpoint \(endpoint) closed at once")))
                        return
                    }
                    // (The pool held strongly: a weak reference would route its retains and releases through a side
                    // table. It holds the handler only while idle, and this removes it.)
                    handler.onIdleClose = { [pool = slot.pool] closed in pool.idle.removeAll { $0 === closed } }
                    wait(.success(handler))
                case .failure(let error):
                    self.http1Closed(slot)
                    wait(.failure(UpstreamConnectError(kind: .unavailable, message: "cannot connect to local endpoint \(endpoint): \(error)")))
                }
            }
    }

    /// An HTTP/1.1 connection to `endpoint` closed (or never opened): its slot goes to the first waiting request.
    private func http1Closed(_ slot: LocalEndpointSlot) {
        let pool = slot.pool
        pool.open -= 1
        if let waiter = pool.waiting.popFirst() {
            connectHTTP1(slot, for: waiter)
        }
    }

    /// Takes back an HTTP/1.1 connection after a clean exchange: to the first waiting request (on the next tick, never
    /// from inside the connection's own read: its decoder is told the next request's head at once), else the idle
    /// list.
    func checkIn(_ handler: UpstreamHandler) {
        guard case .connection(let slot) = handler.kind, !closed else {
            handler.channel?.close(promise: nil)
            return
        }
        let pool = slot.pool
        if let waiter = pool.waiting.popFirst() {
            // On the next tick: this runs inside the previous exchange's last response part.
            eventLoop.assumeIsolated().execute {
                if handler.isActive { waiter(.success(handler)) } else { self.acquireHTTP1(slot, for: waiter) }
            }
            return
        }
        guard pool.idle.count < Self.maxIdlePerEndpoint else {
            handler.channel?.close(promise: nil)
            return
        }
        handler.idleSince = .now()
        pool.idle.append(handler)
        scheduleIdleSweep()
    }

    /// Every half timeout while connections are idle: closes those idle for `upstreamIdleTimeout` or longer (so one
    /// closes between 1 and 1.5 timeouts after its last use).
    private func scheduleIdleSweep() {
        guard idleSweep == nil else { return }   // (before the closure is made: it is allocated, and this runs on every check-in)
        scheduleSweep(.upstreamIdle, timeout: context.configuration.upstreamIdleTimeout.timeAmount) { expired in
            var stale: [UpstreamHandler] = []
            for pool in self.http1Pools.values {
                // Idle lists are used last-in first-out: the stalest connections are at the front.
                let count = pool.idle.prefix { $0.idleSince <= expired }.count
                guard count > 0 else { continue }
                stale.append(contentsOf: pool.idle.prefix(count))
                pool.idle.removeFirst(count)
            }
            for handler in stale { handler.channel?.close(promise: nil) }
            return self.http1Pools.values.contains { !$0.idle.isEmpty }
        }
    }

    /// The pool of `address`, made on first use (an endpoint's address stays in the table it came from; pools of
    /// endpoints a new table dropped stay, empty, until the worker closes).
    private func http1Pool(_ address: String) -> HTTP1Pool {
        if let pool = http1Pools[address] { return pool }
        let pool = HTTP1Pool()
        http1Pools[address] = pool
        return pool
    }

    // MARK: Probes

    /// Pings a peer over this loop's connection: the RTT, or `nil` when it failed.
    func probe(_ cluster: String, timeout: TimeAmount) -> EventLoopFuture<TimeAmount?> {
        guard let connection = peers[cluster] else { return eventLoop.makeSucceededFuture(nil) }
        return connection.ping(timeout: timeout).map { Optional($0) }.recover { _ in nil }
    }

    /// Peers with a connection on this loop.
    var peerClusters: [String] { Array(peers.keys) }

    // MARK: Retries and accounting

    func tryAcquireRetry() -> Bool {
        retryBudget.tryAcquireRetry(at: .now())
    }

    func countRetry(service: String) {
        if let counter = retryCounters[service] {
            counter.increment()
        } else {
            let counter = context.metrics.retries(service: service)
            retryCounters[service] = counter
            counter.increment()
        }
    }

    /// An exchange ended.
    /// `inout` so that the exchange's record is read where it is: passing a class's stored property by value copies it
    /// (a retain and a release for each of its dozen strings).
    /// (The listener as the enumeration: read back from the record's string, it was a string switch per request.)
    func completed(_ record: inout AccessRecord, listener: DownstreamHandler.Listener) {
        context.requestFinished(listener: listener)
        account(record, listener: listener)
    }

    private func account(_ record: AccessRecord, listener: DownstreamHandler.Listener) {
        let source = listener == .tunnel ? (record.caller ?? "unknown") : record.source
        let destination = record.destination ?? "none"
        let service = record.service ?? "none"
        let key = RequestMetricKey(source: source, destination: destination, service: service, status: record.status)
        let metrics: RequestMetrics
        if let last = lastRequestMetrics, last.key == key {
            metrics = last
        } else if let known = requestMetrics[key] {
            metrics = known
            lastRequestMetrics = known
        } else {
            metrics = RequestMetrics(key: key,
                                     requests: context.metrics.requestCounter(source: source, destination: destination, service: service, status: record.status),
                                     duration: context.metrics.requestDuration(source: source, destination: destination, service: service))
            requestMetrics[key] = metrics
            lastRequestMetrics = metrics
        }
        metrics.requests.increment()
        metrics.duration.record(nanoseconds: Int64(record.durationSeconds * 1e9))
        context.accessLog.write(record)
    }
}

/// One label set's request counter and latency histogram. (A class: as a tuple in an optional, the last one was
/// copied through the runtime's generic tuple witness.)
final class RequestMetrics {
    let key: ForwardingWorker.RequestMetricKey
    let requests: Counter
    let duration: LatencyHistogram

    init(key: ForwardingWorker.RequestMetricKey, requests: Counter, duration: LatencyHistogram) {
        self.key = key
        self.requests = requests
        self.duration = duration
    }
}

extension RequestHead {
    /// Whether a body follows the head (a content length above zero, or chunked).
    var hasBody: Bool {
        if let length = headers.first(.contentLength), let value = Int(length) { return value > 0 }
        return headers.first(.transferEncoding) != nil
    }
}

/// Handlers held in slots, each knowing its own (``DownstreamHandler/trackingSlot``): in and out without hashing,
/// freed slots reused.
struct HandlerSlots {
    private var slots: [DownstreamHandler?] = []
    private var free: [Int] = []

    var isEmpty: Bool { free.count == slots.count }
    var handlers: [DownstreamHandler] { slots.compactMap { $0 } }

    mutating func insert(_ handler: DownstreamHandler) {
        guard handler.trackingSlot < 0 else { return }
        if let slot = free.popLast() {
            slots[slot] = handler
            handler.trackingSlot = slot
        } else {
            handler.trackingSlot = slots.count
            slots.append(handler)
        }
    }

    mutating func remove(_ handler: DownstreamHandler) {
        let slot = handler.trackingSlot
        guard slot >= 0, slot < slots.count, slots[slot] === handler else { return }
        slots[slot] = nil
        handler.trackingSlot = -1
        free.append(slot)
    }
}

/// A local endpoint's HTTP/1.1 connections on one worker.
final class HTTP1Pool {
    /// Checked in after a clean exchange, last in first out (the stalest at the front).
    var idle: [UpstreamHandler] = []
    /// Open: connecting, in use or idle.
    var open = 0
    /// Requests waiting for a connection while the endpoint is at its connection limit (circuit breaking).
    var waiting = LazyQueue<UpstreamWait>()
}

/// A service's local endpoints on one worker, and the round-robin position over them.
final class LocalService {
    let endpoints: [LocalEndpointSlot]
    /// The next endpoint to try (modulo the count).
    var cursor = 0

    init(endpoints: [LocalEndpointSlot]) {
        self.endpoints = endpoints
    }
}

/// A local endpoint on one worker: its HTTP/1.1 pool (shared by every service at the same address) and its health
/// record.
final class LocalEndpointSlot {
    let endpoint: LocalEndpoint
    let pool: HTTP1Pool
    let health: DestinationHealth.Cell

    init(endpoint: LocalEndpoint, pool: HTTP1Pool, health: DestinationHealth.Cell) {
        self.endpoint = endpoint
        self.pool = pool
        self.health = health
    }
}
