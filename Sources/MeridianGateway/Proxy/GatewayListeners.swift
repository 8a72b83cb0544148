import Logging
import MeridianPKI
import NIOCore

import NIOHTTP2
import NIOPosix
import Prometheus
import Synchronization

/// Binds the gateway's two traffic listeners.
enum GatewayListeners {
    /// The local listener: HTTP/1.1 and h2c (prior knowledge) on one port, told apart by ``ProtocolDetector``.
    static func bindLocal(group: any EventLoopGroup, host: String, port: Int, workers: WorkerSet, context: DataPlaneContext) async throws -> any Channel {
        let maxHeaderBytes = context.configuration.maxHeaderBytes
        let window = context.configuration.http2Window
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // No child channel options: each cost about 10,000 instructions per accepted connection (a future, casts
            // and metadata lookups around one setsockopt), and both were what the connection has anyway. Nagle is off
            // on the listening socket (ServerBootstrap's default), which accepted sockets inherit; remote half-closure
            // is off by default. (`GatewayEndToEndTests.acceptedConnectionsHaveNagleOff`)
            .childChannelInitializer { channel in
                channel.eventLoop.initializing {
                    let worker = workers.worker(for: channel.eventLoop)
                    // No NIO HTTP/1 codec: the DownstreamHandler parses requests (HTTP1Parser), frames (BodyFraming)
                    // and encodes (HTTP1HeadWriter) responses, and does the work of NIO's HTTPServerPipelineHandler,
                    // HTTPServerProtocolErrorHandler and IdleStateHandler (pipelining, parse errors, the idle
                    // timeout). It tells h2c from HTTP/1.1 by the first bytes (ProtocolDetector) and, for h2c, builds
                    // the pipeline behind itself and leaves.
                    try channel.pipeline.syncOperations.addHandler(DownstreamHandler(
                        worker: worker, listener: .local, isHTTP2Stream: false, maxHeaderBytes: maxHeaderBytes
                    ) { channel in
                        // No IdleStateHandler either: the worker's sweep closes a connection that has had no stream
                        // for the idle timeout (the mux notes when its last stream closed).
                        let mux = try HTTP2Tuning.configure(channel, server: true, tunnel: false, maxHeaderBytes: maxHeaderBytes, window: window) { stream in
                            _ = HTTP2StreamDownstream(downstream: DownstreamHandler(worker: worker, listener: .local, isHTTP2Stream: true), stream: stream)
                        }
                        worker.trackInbound(http2: channel, idle: mux)
                    })
                }
            }
            .bind(host: host, port: port)
            .get()
    }

    /// The tunnel listener: mTLS 1.3 with ALPN h2 (``MeshTLS``), the peer's SPIFFE identity checked by the verifier,
    /// then HTTP/2 streams (``HTTP2StreamMux``), each owned by an ``HTTP2StreamDownstream`` in front of a ``DownstreamHandler``.
    static func bindTunnel(group: any EventLoopGroup, host: String, port: Int, workers: WorkerSet, context: DataPlaneContext) async throws -> any Channel {
        let logger = context.logger
        let maxHeaderBytes = context.configuration.maxHeaderBytes
        let handshakeTimeout = context.configuration.handshakeTimeout.timeAmount
        let window = context.configuration.http2Window
        let maximumWindow = context.configuration.http2WindowMax
        let growths = context.metrics.tunnelWindowGrowths
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Nagle off: inherited from the listening socket (as on the local listener).
            .childChannelInitializer { channel in
                channel.eventLoop.initializing {
                    let worker = workers.worker(for: channel.eventLoop)
                    let remote = channel.remoteAddress.map { "\($0)" } ?? "?"
                    let handlers = MeshTLS.makeServerHandlers(context: context.tls.server, verifier: context.verifier) { failure in
                        logger.warning("tunnel peer refused", metadata: [
                            "meridian.peer.address": "\(remote)", "meridian.peer.reason": "\(failure.reason.rawValue)",
                            "meridian.peer.message": "\(failure.message)", "meridian.peer.spiffe": "\(failure.spiffeID ?? "-")",
                        ])
                    }
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandlers(handlers.all)
                    let identity = handlers.identityHandler   // (which leaves the pipeline after the handshake)
                    try sync.addHandler(HandshakeDeadlineHandler(deadline: handshakeTimeout))
                    // The peer's verified identity, looked up once: streams open only after the handshake.
                    // The windows start where the last connection from the same peer grew them (on any event loop).
                    var caller: PeerIdentity?
                    var callerCluster: String?   // (what each stream's handler keeps: the cluster, not the identity)
                    var identified = false   // (a flag: `caller == nil` copied the identity, three retains, on every stream)
                    var windowGauge: Gauge?
                    let mux = try HTTP2Tuning.configure(channel, server: true, tunnel: true, maxHeaderBytes: maxHeaderBytes, window: window,
                                                        maximumWindow: maximumWindow) { stream in
                        if !identified {
                            identified = true
                            caller = identity.peerIdentity
                            callerCluster = caller?.cluster
                            if let cluster = caller?.cluster {
                                let mux = stream.mux   // (the initializer, which the mux holds, does not hold the mux)
                                if let grown = context.grownTunnelWindows.withLock({ $0.opened(cluster, at: .now()) }) { mux.startGrown(to: grown) }
                                windowGauge = context.metrics.tunnelWindow(cluster, outgoing: false)
                                windowGauge?.set(Double(mux.targetWindow))
                            }
                        }
                        _ = HTTP2StreamDownstream(downstream: DownstreamHandler(worker: worker, listener: .tunnel, isHTTP2Stream: true, callerCluster: callerCluster),
                                                  stream: stream)
                    }
                    mux.windowGrown = { window in
                        growths.increment()
                        windowGauge?.set(Double(window))
                        if let cluster = caller?.cluster { context.grownTunnelWindows.withLock { $0.grew(cluster, to: window, at: .now()) } }
                    }
                    channel.closeFuture.assumeIsolated().whenComplete { _ in
                        // (The gauge is set exactly when the connection was counted as opened.)
                        if let cluster = caller?.cluster, windowGauge != nil { context.grownTunnelWindows.withLock { $0.closed(cluster, at: .now()) } }
                    }
                    try sync.addHandler(TunnelErrorHandler())
                    worker.trackInbound(http2: channel)
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}
