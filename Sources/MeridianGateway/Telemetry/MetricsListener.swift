import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// The metrics listener: `GET /metrics` (Prometheus text), `GET /healthz` (alive), `GET /readyz` (200 once a routing
/// table is applied, else 503).
enum MetricsListener {
    static func bind(group: any EventLoopGroup, host: String, port: Int, metrics: GatewayMetrics,
                     ready: @escaping @Sendable () -> Bool) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.initializing {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHandler(metrics: metrics, ready: ready))
                }
            }
            .bind(host: host, port: port)
            .get()
    }

    final class MetricsHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let metrics: GatewayMetrics
        private let ready: @Sendable () -> Bool
        private var head: HTTPRequestHead?

        init(metrics: GatewayMetrics, ready: @escaping @Sendable () -> Bool) {
            self.metrics = metrics
            self.ready = ready
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
            case .body:
                break
            case .end:
                guard let head else { return }
                self.head = nil
                let path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
                let (status, contentType, body): (HTTPResponseStatus, String, [UInt8])
                switch (head.method, path) {
                case (.GET, "/metrics"):
                    (status, contentType, body) = (.ok, "text/plain; version=0.0.4", metrics.exposition())
                case (.GET, "/healthz"):
                    (status, contentType, body) = (.ok, "text/plain", Array("ok\n".utf8))
                case (.GET, "/readyz"):
                    let isReady = ready()
                    (status, contentType, body) = (isReady ? .ok : .serviceUnavailable, "text/plain", Array((isReady ? "ready\n" : "no routing table yet\n").utf8))
                default:
                    (status, contentType, body) = (.notFound, "text/plain", Array("not found: try /metrics, /healthz or /readyz\n".utf8))
                }
                var headers = HTTPHeaders()
                headers.add(name: "content-type", value: contentType)
                headers.add(name: "content-length", value: String(body.count))
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                if !head.isKeepAlive { context.close(promise: nil) }
            }
        }
    }
}
