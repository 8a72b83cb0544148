import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A tiny HTTP/1.1 model server for the tests.
///
/// - `/sse`: an event stream; sends `data: first`, then waits for ``releaseStream()`` before `data: last`;
/// - `/upload`: counts body bytes (noting when the first arrived) and answers `received N`;
/// - `/chunked`: `hello world` in two chunks, no length; to HEAD, the same head (`transfer-encoding: chunked`);
/// - `/close`: answers with `connection: close` and the connection's number (`x-connection`), and leaves the
///   connection open (a gateway that reuses it is wrong);
/// - anything else: answers JSON with its name, the path, the request headers and the connection's number (from 1,
///   in the order accepted).
final class TestUpstream: Sendable {
    let name: String
    let channel: any Channel
    let requests = Locked<[HTTPRequestHead]>([])
    let firstUploadByte = Locked<ContinuousClock.Instant?>(nil)
    let uploadedBytes = Locked<Int>(0)
    /// Connections accepted so far.
    let connectionsAccepted = Locked<Int>(0)
    /// Connections closed after serving at least one request (a stray connection, say from another test's gateway
    /// to a port this one reused, is not counted).
    let connectionsClosed = Locked<Int>(0)
    private let streamGate: EventLoopPromise<Void>

    var port: Int { channel.localAddress?.port ?? 0 }

    private init(name: String, channel: any Channel, streamGate: EventLoopPromise<Void>) {
        self.name = name
        self.channel = channel
        self.streamGate = streamGate
    }

    static func start(name: String) async throws -> TestUpstream {
        let group = MultiThreadedEventLoopGroup.singleton
        let gate = group.next().makePromise(of: Void.self)
        let box = Locked<TestUpstream?>(nil)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let number = box.value?.connectionsAccepted.withLock { accepted in
                    accepted += 1
                    return accepted
                } ?? 0
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(upstream: { box.value! }, gate: gate.futureResult, connection: number))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let upstream = TestUpstream(name: name, channel: channel, streamGate: gate)
        box.withLock { $0 = upstream }
        return upstream
    }

    /// Lets `/sse` send its last event.
    func releaseStream() {
        streamGate.succeed()
    }

    func stop() async {
        streamGate.succeed()
        try? await channel.close()
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let upstream: @Sendable () -> TestUpstream
        private let gate: EventLoopFuture<Void>
        private var head: HTTPRequestHead?
        private var received = 0
        private var served = false
        private let connection: Int

        init(upstream: @escaping @Sendable () -> TestUpstream, gate: EventLoopFuture<Void>, connection: Int) {
            self.upstream = upstream
            self.gate = gate
            self.connection = connection
        }

        func channelInactive(context: ChannelHandlerContext) {
            if served { upstream().connectionsClosed.withLock { $0 += 1 } }
            context.fireChannelInactive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                served = true
                received = 0
                upstream().requests.withLock { $0.append(head) }
                if head.uri == "/sse" { startStream(context: context, head: head) }
            case .body(let buffer):
                if received == 0 { upstream().firstUploadByte.withLock { if $0 == nil { $0 = .now } } }
                received += buffer.readableBytes
            case .end:
                guard let head else { return }
                if head.uri.hasPrefix("/bytes/"), let count = Int(head.uri.dropFirst("/bytes/".count)) {
                    // A large response body: `count` bytes of "b".
                    var headers = HTTPHeaders()
                    headers.add(name: "content-length", value: String(count))
                    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
                    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(repeating: UInt8(ascii: "b"), count: count)))), promise: nil)
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                } else if head.uri == "/chunked" {
                    var headers = HTTPHeaders()
                    headers.add(name: "content-type", value: "text/plain")
                    headers.add(name: "transfer-encoding", value: "chunked")
                    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
                    if head.method != .HEAD {
                        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "hello")))), promise: nil)
                        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: " world")))), promise: nil)
                    }
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                } else if head.uri.hasPrefix("/status/"), let code = Int(head.uri.dropFirst("/status/".count)) {
                    // A response without a body (204, 304), framed by NIO's encoder as it frames such a status.
                    var headers = HTTPHeaders()
                    headers.add(name: "etag", value: "\"v1\"")
                    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .init(statusCode: code), headers: headers))), promise: nil)
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                } else if head.uri == "/gzip-chunked" {
                    // A transfer coding besides chunked (the bytes are not really gzip: nothing must relay them),
                    // written as bytes past NIO's encoder, which would make it `chunked` alone; then the close.
                    let raw = "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\nf\r\nnot really gzip\r\n0\r\n\r\n"
                    let encoder = try! context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
                    encoder.writeAndFlush(NIOAny(IOData.byteBuffer(ByteBuffer(string: raw)))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                } else if head.uri == "/close" {
                    var headers = HTTPHeaders()
                    headers.add(name: "content-length", value: "6")
                    headers.add(name: "Connection", value: "Close")
                    headers.add(name: "x-connection", value: String(connection))
                    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
                    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "closed")))), promise: nil)
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                } else if head.uri == "/upload" {
                    upstream().uploadedBytes.withLock { $0 = received }
                    respond(context: context, head: head, status: .ok, body: "received \(received)")
                } else if head.uri != "/sse" {
                    var fields: [String: String] = [:]
                    for (name, value) in head.headers { fields[name.lowercased()] = value }
                    let json = try! JSONSerialization.data(withJSONObject: ["upstream": upstream().name, "path": head.uri, "headers": fields, "connection": connection] as [String: Any], options: [.sortedKeys])
                    respond(context: context, head: head, status: .ok, body: String(decoding: json, as: UTF8.self))
                }
            }
        }

        private func respond(context: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus, body: String) {
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "application/json")
            headers.add(name: "content-length", value: String(body.utf8.count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }

        private func startStream(context: ChannelHandlerContext, head: HTTPRequestHead) {
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "text/event-stream")
            headers.add(name: "cache-control", value: "no-cache")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "data: first\n\n")))), promise: nil)
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            gate.hop(to: context.eventLoop).whenSuccess {
                let (handler, context) = loopBound.value
                context.write(handler.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "data: last\n\n")))), promise: nil)
                context.writeAndFlush(handler.wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
