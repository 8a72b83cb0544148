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
    /// With `splitFirstWrite`, the connection's first write (the preface) leaves in two parts, the second 100 ms after
    /// the first: the gateway reads a proper prefix of the preface first.
    static func withConnection<R: Sendable>(port: Int, validating: Bool = true, splitFirstWrite: Bool = false,
                                            closed: ((EventLoopFuture<Void>) -> Void)? = nil,
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
                    if splitFirstWrite { try channel.pipeline.syncOperations.addHandler(FirstWriteSplitter(), position: .first) }
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

/// Splits a connection's first write: its first 10 bytes at once, the rest 100 ms later (what follows waits behind it).
final class FirstWriteSplitter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var split = false
    private var delayed: [(ByteBuffer, EventLoopPromise<Void>?)]?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var bytes = unwrapOutboundIn(data)
        if delayed != nil {
            delayed!.append((bytes, promise))
            return
        }
        guard !split, bytes.readableBytes > 10 else {
            context.write(data, promise: promise)
            return
        }
        split = true
        let first = bytes.readSlice(length: 10)!
        context.writeAndFlush(wrapOutboundOut(first), promise: nil)
        delayed = [(bytes, promise)]
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: .milliseconds(100)) {
            let (handler, context) = loopBound.value
            for (rest, promise) in handler.delayed ?? [] { context.write(handler.wrapOutboundOut(rest), promise: promise) }
            handler.delayed = nil
            context.flush()
        }
    }

    func flush(context: ChannelHandlerContext) {
        if delayed == nil { context.flush() }
    }
}
