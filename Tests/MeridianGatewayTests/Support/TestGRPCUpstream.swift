import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix

/// A gRPC-shaped h2c server: answers every stream with `content-type: application/grpc`, echoes the request body
/// back in two DATA frames, and ends with trailers (`grpc-status: 0`, `x-echo-bytes`).
final class TestGRPCUpstream: Sendable {
    let channel: any Channel
    let requests: Locked<[HTTPRequestHead]>
    var port: Int { channel.localAddress?.port ?? 0 }

    private init(channel: any Channel, requests: Locked<[HTTPRequestHead]>) {
        self.channel = channel
        self.requests = requests
    }

    static func start() async throws -> TestGRPCUpstream {
        let requests = Locked<[HTTPRequestHead]>([])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .server, connectionConfiguration: .init(), streamConfiguration: .init()
                    ) { stream in
                        stream.eventLoop.makeCompletedFuture {
                            try stream.pipeline.syncOperations.addHandlers([HTTP2FramePayloadToHTTP1ServerCodec(), Handler(requests: requests)])
                        }
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TestGRPCUpstream(channel: channel, requests: requests)
    }

    func stop() async {
        try? await channel.close()
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let requests: Locked<[HTTPRequestHead]>
        private var body = ByteBuffer()

        init(requests: Locked<[HTTPRequestHead]>) {
            self.requests = requests
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                requests.withLock { $0.append(head) }
                var headers = HTTPHeaders()
                headers.add(name: "content-type", value: "application/grpc")
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http2, status: .ok, headers: headers))), promise: nil)
            case .body(var buffer):
                // Stream the echo as it comes (bidirectional streaming).
                let echoed = buffer.readableBytes
                body.writeBuffer(&buffer)
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(repeating: 0x65, count: echoed)))), promise: nil)
            case .end:
                var trailers = HTTPHeaders()
                trailers.add(name: "grpc-status", value: "0")
                trailers.add(name: "x-echo-bytes", value: String(body.readableBytes))
                context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
            }
        }
    }
}

