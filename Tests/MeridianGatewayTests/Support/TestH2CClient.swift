import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix

/// An h2c (prior knowledge) client for the local listener, as a gRPC client would connect.
enum TestH2CClient {
    typealias Stream = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    /// Opens a connection and runs `body` with a function that opens streams on it. With `validating` false, the
    /// client sends header blocks and bodies NIO would refuse to send (as a broken or hostile client could). `closed` is given
    /// the connection's close future; `rootFrame` each connection-level frame received (SETTINGS, PING, GOAWAY).
    static func withConnection<R: Sendable>(port: Int, validating: Bool = true, closed: ((EventLoopFuture<Void>) -> Void)? = nil,
                                            rootFrame: (@Sendable (HTTP2Frame) -> Void)? = nil,
                                            _ body: (_ openStream: () async throws -> Stream) async throws -> R) async throws -> R {
        let configuration = {
            var configuration = NIOHTTP2Handler.Configuration()
            if !validating {
                configuration.connection.headerBlockValidation = .disabled
                configuration.connection.contentLengthValidation = .disabled
            }
            return configuration
        }()
        let (channel, multiplexer) = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let multiplexer = try channel.pipeline.syncOperations.configureAsyncHTTP2Pipeline(mode: .client, configuration: configuration) { stream in
                        stream.eventLoop.makeSucceededVoidFuture()
                    }
                    if let rootFrame { try channel.pipeline.syncOperations.addHandler(RootFrameRecorder(rootFrame)) }
                    return (channel, multiplexer)
                }
            }
        closed?(channel.closeFuture)
        defer { channel.close(promise: nil) }
        return try await body {
            try await multiplexer.openStream { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http))
                    return try Stream(wrappingChannelSynchronously: stream)
                }
            }
        }
    }
}

/// Hands each connection-level frame the client receives to a closure.
private final class RootFrameRecorder: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    private let record: @Sendable (HTTP2Frame) -> Void

    init(_ record: @escaping @Sendable (HTTP2Frame) -> Void) {
        self.record = record
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        record(unwrapInboundIn(data))
        context.fireChannelRead(data)
    }
}
