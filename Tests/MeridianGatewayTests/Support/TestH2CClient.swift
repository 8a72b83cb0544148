import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix

/// An h2c (prior knowledge) client for the local listener, as a gRPC client would connect.
enum TestH2CClient {
    typealias Stream = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    /// Opens a connection and runs `body` with a function that opens streams on it. With `validating` false, the
    /// client sends header blocks NIO would refuse to send (as a broken or hostile client could). `closed` is given
    /// the connection's close future.
    static func withConnection<R: Sendable>(port: Int, validating: Bool = true, closed: ((EventLoopFuture<Void>) -> Void)? = nil,
                                            _ body: (_ openStream: () async throws -> Stream) async throws -> R) async throws -> R {
        let configuration = {
            var configuration = NIOHTTP2Handler.Configuration()
            if !validating { configuration.connection.headerBlockValidation = .disabled }
            return configuration
        }()
        let (channel, multiplexer) = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let multiplexer = try channel.pipeline.syncOperations.configureAsyncHTTP2Pipeline(mode: .client, configuration: configuration) { stream in
                        stream.eventLoop.makeSucceededVoidFuture()
                    }
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
