import NIOCore
import NIOHTTP1
import NIOPosix

/// An HTTP/1.1 model server that counts request body bytes and throws them away, and that stops reading for
/// `pauseFor` once `pauseAfter` bytes have arrived (once per server): a consumer slower than the client, so that
/// only backpressure keeps the gateways between them from buffering. Answers `received N` at the end of a request.
final class PausingSink: Sendable {
    let channel: any Channel
    /// Body bytes received so far (over all requests).
    let received = Locked<Int>(0)
    /// When the pause started, once it has.
    let pausedAt = Locked<ContinuousClock.Instant?>(nil)
    var port: Int { channel.localAddress?.port ?? 0 }

    private init(channel: any Channel) {
        self.channel = channel
    }

    static func start(pauseAfter: Int, pauseFor: TimeAmount) async throws -> PausingSink {
        let box = Locked<PausingSink?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(sink: { box.value! }, pauseAfter: pauseAfter, pauseFor: pauseFor))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let sink = PausingSink(channel: channel)
        box.withLock { $0 = sink }
        return sink
    }

    func stop() async {
        try? await channel.close()
    }

    final class Handler: ChannelDuplexHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundIn = HTTPServerResponsePart
        typealias OutboundOut = HTTPServerResponsePart

        private let sink: @Sendable () -> PausingSink
        private let pauseAfter: Int
        private let pauseFor: TimeAmount
        private var count = 0
        private var paused = false
        private var readHeld = false

        init(sink: @escaping @Sendable () -> PausingSink, pauseAfter: Int, pauseFor: TimeAmount) {
            self.sink = sink
            self.pauseAfter = pauseAfter
            self.pauseFor = pauseFor
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head:
                count = 0
            case .body(let buffer):
                count += buffer.readableBytes
                let total = sink().received.withLock { $0 += buffer.readableBytes; return $0 }
                if total >= pauseAfter, sink().pausedAt.value == nil {
                    sink().pausedAt.withLock { $0 = .now }
                    paused = true
                    context.eventLoop.assumeIsolated().scheduleTask(in: pauseFor) {
                        self.paused = false
                        if self.readHeld {
                            self.readHeld = false
                            context.read()
                        }
                    }
                }
            case .end:
                let body = "received \(count)"
                var headers = HTTPHeaders()
                headers.add(name: "content-length", value: String(body.utf8.count))
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }

        func read(context: ChannelHandlerContext) {
            if paused {
                readHeld = true
            } else {
                context.read()
            }
        }
    }
}
