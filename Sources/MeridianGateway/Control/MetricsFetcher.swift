#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore
import NIOHTTP1
import NIOPosix

/// Fetches a Prometheus text endpoint over plain HTTP/1.1 (`http://HOST:PORT/PATH`), for the DCGM exporter and vLLM.
enum MetricsFetcher {
    struct FetchError: Error, CustomStringConvertible {
        var description: String
    }

    /// The body of a `GET`, at most `limit` bytes; fails on a status other than 200 or after `timeout`.
    static func get(_ url: String, group: any EventLoopGroup, timeout: TimeAmount = .seconds(2), limit: Int = 8 << 20) async throws -> String {
        guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host else {
            throw FetchError(description: "'\(url)' is not an http:// URL")
        }
        let port = components.port ?? 80
        var path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        if let query = components.percentEncodedQuery { path += "?" + query }
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: String.self)
        let requestPath = path
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.initializing {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(BodyCollector(promise: promise, limit: limit))
                    }
                }
                .connect(host: host, port: port)
                .get()
        } catch {
            // The promise must be completed on every path: a leaked promise is a crash in debug builds.
            promise.fail(error)
            throw error
        }
        let timer = eventLoop.scheduleTask(in: timeout) {
            promise.fail(FetchError(description: "\(url) did not answer within \(timeout)"))
        }
        var headers = HTTPHeaders()
        headers.add(name: "host", value: HostPort.format(host: host, port: port))
        headers.add(name: "accept", value: "text/plain")
        headers.add(name: "connection", value: "close")
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: requestPath, headers: headers)), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }
        return try await promise.futureResult.get()
    }

    /// Collects a response body into a string.
    final class BodyCollector: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart

        private let promise: EventLoopPromise<String>
        private let limit: Int
        private var status: UInt = 0
        private var body = ByteBuffer()

        init(promise: EventLoopPromise<String>, limit: Int) {
            self.promise = promise
            self.limit = limit
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                status = head.status.code
            case .body(var buffer):
                guard body.readableBytes + buffer.readableBytes <= limit else {
                    promise.fail(FetchError(description: "the metrics body exceeds \(limit) bytes"))
                    context.close(promise: nil)
                    return
                }
                body.writeBuffer(&buffer)
            case .end:
                if status == 200 {
                    promise.succeed(body.readString(length: body.readableBytes) ?? "")
                } else {
                    promise.fail(FetchError(description: "answered \(status)"))
                }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(FetchError(description: "the connection closed before the response ended"))
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }
    }
}
