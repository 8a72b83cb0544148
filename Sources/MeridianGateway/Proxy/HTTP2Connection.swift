import Logging
import MeridianPKI
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// One long-lived HTTP/2 connection: to a peer gateway's tunnel (mTLS, ALPN h2, the peer's SPIFFE ID checked) or to
/// a local h2c endpoint (cleartext, prior knowledge). Streams are multiplexed on it; it connects at once (warm),
/// reconnects with jittered exponential backoff when it drops, answers probes with an HTTP/2 PING, and limits
/// concurrent and pending streams (circuit breaking).
///
/// Confined to `eventLoop`: every method must be called there. `@unchecked Sendable` only so that channel
/// initializers (which run on the same loop) can reach it.
final class HTTP2Connection: @unchecked Sendable {
    enum Security: Sendable {
        case mutualTLS(tls: TLSContextStore, verifier: PeerIdentityVerifier, expectedCluster: String)
        case cleartext
    }

    private enum State {
        case idle
        case connecting
        case ready(any Channel, HTTP2StreamMux)
        case backingOff(Scheduled<Void>)
        case closed
    }

    private struct PendingStream {
        var handler: UpstreamHandler
        var wait: UpstreamWait
    }

    let name: String
    /// The peer's record in ``DestinationHealth`` (a tunnel connection's; set by the worker that made it).
    var health: DestinationHealth.Cell?
    let host: String
    /// The flow-control window of the connection and of each of its streams (``HTTP2Tuning``).
    let window: Int
    /// The largest window a tunnel connection grows to (``AdaptiveWindow``); `nil` keeps `window`.
    let maximumWindow: Int?
    /// Told the receive window of each connection once it is ready (`grew: false`) and each window it grows to.
    let windowChanged: (@Sendable (_ window: Int, _ grew: Bool) -> Void)?
    let port: Int
    let eventLoop: any EventLoop
    private let security: Security
    private let connectTimeout: TimeAmount
    private let maxConcurrentStreams: Int
    private let maxPending: Int
    private let logger: Logger
    /// Called with `true` when the connection becomes ready and `false` when it is lost.
    var onStateChange: ((Bool) -> Void)?
    /// Called with +1 or -1 when a stream opens or closes.
    var onStreamCountChange: ((Int) -> Void)?

    private var state: State = .idle
    private var pending = CircularBuffer<PendingStream>()
    private var connectingChannel: (any Channel)?
    private var connectingMux: HTTP2StreamMux?
    private var failures = 0
    private var readySince: NIODeadline?
    private var random = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
    private var pings: [UInt64: (sent: NIODeadline, promise: EventLoopPromise<TimeAmount>)] = [:]
    private(set) var activeStreams = 0
    /// The window the last connection grew to (``AdaptiveWindow``): the next one starts there, unless it expired.
    private var remembered: RememberedWindow?

    init(name: String, host: String, port: Int, eventLoop: any EventLoop, security: Security, connectTimeout: TimeAmount,
         maxConcurrentStreams: Int, maxPending: Int, window: Int = HTTP2Tuning.window, maximumWindow: Int? = nil,
         windowChanged: (@Sendable (_ window: Int, _ grew: Bool) -> Void)? = nil, logger: Logger) {
        self.name = name
        self.window = window
        self.maximumWindow = maximumWindow
        self.windowChanged = windowChanged
        self.host = host
        self.port = port
        self.eventLoop = eventLoop
        self.security = security
        self.connectTimeout = connectTimeout
        self.maxConcurrentStreams = maxConcurrentStreams
        self.maxPending = maxPending
        self.logger = logger
    }

    /// Ready to carry a stream now, or connecting for the first time (a request then waits as pending).
    var isUsable: Bool {
        switch state {
        case .ready: return true
        case .connecting, .idle: return failures == 0
        case .backingOff, .closed: return false
        }
    }

    var isReady: Bool {
        if case .ready = state { return true }
        return false
    }

    /// Starts connecting (warm).
    func start() {
        eventLoop.assertInEventLoop()
        guard case .idle = state else { return }
        connect()
    }

    /// Closes the connection for good; pending streams fail.
    func close() {
        eventLoop.assertInEventLoop()
        let previous = state
        state = .closed
        switch previous {
        case .ready(let channel, _): channel.close(promise: nil)
        case .backingOff(let scheduled): scheduled.cancel()
        case .connecting: connectingChannel?.close(promise: nil)
        case .idle, .closed: break
        }
        failPending(UpstreamConnectError(kind: .closed, message: "connection to \(name) closed"))
        failPings()
    }

    // MARK: Streams

    /// Opens a stream, owned by an ``HTTP2StreamUpstream`` in front of `handler`.
    func openStream(_ handler: UpstreamHandler, for wait: UpstreamWait) {
        eventLoop.assertInEventLoop()
        switch state {
        case .ready(_, let mux):
            guard activeStreams < maxConcurrentStreams else {
                wait(.failure(UpstreamConnectError(kind: .overflow, message: "\(name): \(activeStreams) streams open, the limit is \(maxConcurrentStreams)")))
                return
            }
            create(handler, on: mux, for: wait)
        case .connecting, .idle:
            guard failures == 0 else {
                wait(.failure(UpstreamConnectError(kind: .unavailable, message: "\(name) is unreachable (reconnecting)")))
                return
            }
            guard pending.count < maxPending else {
                wait(.failure(UpstreamConnectError(kind: .overflow, message: "\(name): \(pending.count) requests wait for the connection, the limit is \(maxPending)")))
                return
            }
            pending.append(PendingStream(handler: handler, wait: wait))
            if case .idle = state { connect() }
        case .backingOff:
            wait(.failure(UpstreamConnectError(kind: .unavailable, message: "\(name) is unreachable (reconnecting after \(failures) failures)")))
        case .closed:
            wait(.failure(UpstreamConnectError(kind: .closed, message: "connection to \(name) is closed")))
        }
    }

    private func create(_ handler: UpstreamHandler, on mux: HTTP2StreamMux, for wait: UpstreamWait) {
        let stream = HTTP2StreamUpstream(upstream: handler).open(on: mux)
        guard stream.isActive else {
            wait(.failure(UpstreamConnectError(kind: .unavailable, message: "cannot open a stream to \(name): the connection is closed")))
            return
        }
        activeStreams += 1
        onStreamCountChange?(1)
        // Strong references to this connection, here and in `windowGrown`: a weak one gives it a side table of
        // reference counts, which each of its retains and releases (several per request) then goes through. The
        // stream lets go of it when it closes, the mux of `windowGrown` when its handler is removed.
        stream.countedBy = self
        wait(.success(handler))
    }

    /// A stream ``create(_:on:for:)`` opened has closed.
    func streamClosed() {
        activeStreams -= 1
        onStreamCountChange?(-1)
    }

    // MARK: Probes

    /// Sends an HTTP/2 PING and measures the round trip; fails after `timeout` (and then drops the connection, which
    /// is likely dead).
    func ping(timeout: TimeAmount) -> EventLoopFuture<TimeAmount> {
        eventLoop.assertInEventLoop()
        guard case .ready(let channel, _) = state else {
            return eventLoop.makeFailedFuture(UpstreamConnectError(kind: .unavailable, message: "no connection to \(name)"))
        }
        let promise = eventLoop.makePromise(of: TimeAmount.self)
        let data = random.next()
        pings[data] = (NIODeadline.now(), promise)
        channel.writeAndFlush(HTTP2Frame(streamID: .rootStream, payload: .ping(HTTP2PingData(withInteger: data), ack: false)), promise: nil)
        let timer = eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            guard let waiter = self.pings.removeValue(forKey: data) else { return }
            waiter.promise.fail(UpstreamConnectError(kind: .unavailable, message: "\(self.name) did not answer a PING within \(timeout)"))
            if case .ready(let current, _) = self.state, current === channel {
                self.logger.warning("peer connection unresponsive, reconnecting", metadata: ["meridian.peer": "\(self.name)"])
                channel.close(promise: nil)
            }
        }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        return promise.futureResult
    }

    /// The peer is shutting down (GOAWAY): no new stream goes on this connection; streams on it finish, and a new
    /// connection is tried at once (it fails while the peer is gone, which takes it out of rotation).
    func goAwayReceived(on channel: any Channel) {
        guard case .ready(let current, _) = state, current === channel else { return }
        logger.info("peer is draining (GOAWAY); reconnecting", metadata: ["meridian.peer": "\(name)"])
        lost(channel: channel, error: UpstreamConnectError(kind: .closed, message: "\(name) sent GOAWAY"), closing: false)
    }

    func pingAcknowledged(_ data: HTTP2PingData) {
        guard let waiter = pings.removeValue(forKey: data.integer) else { return }
        waiter.promise.succeed(NIODeadline.now() - waiter.sent)
    }

    private func failPings() {
        let waiters = pings
        pings.removeAll()
        for waiter in waiters.values {
            waiter.promise.fail(UpstreamConnectError(kind: .closed, message: "connection to \(name) closed"))
        }
    }

    // MARK: Connecting

    private func connect() {
        state = .connecting
        let security = self.security
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.initializing {
                    let sync = channel.pipeline.syncOperations
                    if case .mutualTLS(let tls, let verifier, let expected) = security {
                        let handlers = try MeshTLS.makeClientHandlers(context: tls.client, verifier: verifier, expectedCluster: expected,
                                                                      serverHostname: self.host) { failure in
                            self.logger.warning("peer refused", metadata: ["meridian.peer": "\(expected)", "meridian.peer.reason": "\(failure.reason.rawValue)",
                                                                           "meridian.peer.message": "\(failure.message)"])
                        }
                        try sync.addHandlers(handlers.all)
                    }
                    let tunnel = if case .mutualTLS = security { true } else { false }
                    let mux = try HTTP2Tuning.configure(channel, server: false, tunnel: tunnel, window: self.window,
                                                           maximumWindow: self.maximumWindow)
                    if let grown = self.remembered?.window(at: .now()) { mux.startGrown(to: grown) } else { self.remembered = nil }
                    mux.windowGrown = { window in
                        self.remembered = RememberedWindow(window, at: .now())
                        self.windowChanged?(window, true)
                    }
                    try sync.addHandler(HTTP2ConnectionObserver(connection: self, readyWhenActive: !tunnel))
                    self.connectingChannel = channel
                    self.connectingMux = mux
                }
            }
        bootstrap.connect(host: host, port: port).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                // h2c: ready once active (the observer); it is by now, unless it closed at once.
                if case .cleartext = security { return }
                // mTLS: ready once the observer sees the verified handshake; a peer that stalls mid-handshake is
                // dropped after the connect timeout.
                self.eventLoop.assumeIsolated().scheduleTask(in: self.connectTimeout) {
                    guard case .connecting = self.state, self.connectingChannel === channel else { return }
                    self.lost(channel: channel, error: UpstreamConnectError(kind: .unavailable, message: "TLS handshake with \(self.name) did not finish within \(self.connectTimeout)"))
                    channel.close(promise: nil)
                }
            case .failure(let error):
                self.lost(channel: nil, error: error)
            }
        }
    }

    /// The connection is usable (TCP up; for mTLS, the peer verified).
    func established(_ channel: any Channel) {
        guard case .connecting = state, channel === connectingChannel, let mux = connectingMux else { return }
        state = .ready(channel, mux)
        readySince = .now()
        connectingChannel = nil
        connectingMux = nil
        if failures > 0 {
            logger.info("peer connection restored", metadata: ["meridian.peer": "\(name)", "meridian.peer.failures": "\(failures)"])
        }
        failures = 0
        windowChanged?(mux.targetWindow, false)
        onStateChange?(true)
        let waiting = pending
        pending.removeAll()
        for stream in waiting { create(stream.handler, on: mux, for: stream.wait) }
    }

    /// The connection failed or closed (or, `closing: false`, is draining).
    func lost(channel: (any Channel)?, error: (any Error)?, closing: Bool = true) {
        switch state {
        case .ready(let current, _):
            guard channel == nil || channel === current else { return }
        case .connecting:
            guard channel == nil || channel === connectingChannel else { return }
        case .idle, .backingOff, .closed:
            return
        }
        let wasReady = isReady
        connectingChannel = nil
        connectingMux = nil
        failPings()
        if wasReady {
            remembered?.touch(at: .now())
            onStateChange?(false)
            logger.warning("peer connection lost", metadata: ["meridian.peer": "\(name)", "meridian.error": "\(error.map { "\($0)" } ?? "closed")"])
        } else {
            failures += 1
            if failures == 1 || failures % 10 == 0 {
                logger.warning("cannot connect", metadata: ["meridian.peer": "\(name)", "meridian.address": "\(host):\(port)",
                                                            "meridian.error": "\(error.map { "\($0)" } ?? "closed during handshake")",
                                                            "meridian.peer.failures": "\(failures)"])
            }
            failPending(UpstreamConnectError(kind: .unavailable, message: "cannot connect to \(name) at \(HostPort.format(host: host, port: port)): \(error.map { "\($0)" } ?? "closed")"))
        }
        // A connection that was up for a while reconnects at once; failed attempts, and connections that die young
        // (a peer that keeps refusing us), back off: 50 ms doubling to 5 s, +-20 %.
        let delay: TimeAmount
        if wasReady, let since = readySince, NIODeadline.now() - since > .seconds(1) {
            delay = .milliseconds(0)
        } else {
            if wasReady { failures += 1 }
            let base = min(50 * (Int64(1) << Int64(min(failures - 1, 10))), 5000)
            let jitter = 0.8 + Double(random.next() % 400) / 1000
            delay = .milliseconds(Int64(Double(base) * jitter))
        }
        let scheduled = eventLoop.assumeIsolated().scheduleTask(in: delay) {
            guard case .backingOff = self.state else { return }
            self.connect()
        }
        state = .backingOff(scheduled)
    }

    private func failPending(_ error: any Error) {
        let waiting = pending
        pending.removeAll()
        for stream in waiting { stream.wait(.failure(error)) }
    }
}
