import MeridianModel
import MeridianPKI
import NIOCore
import NIOHTTP1

/// The client end of proxied requests: the last handler of a local HTTP/1.1 connection (behind NIO's server
/// pipeline), or, on a local h2c stream or a tunnel stream, the handler behind that stream's
/// ``HTTP2StreamDownstream`` (which translates frame payloads to its parts and passes it the stream's events).
///
/// For each request head it asks its event loop's ``ForwardingWorker`` for a decision, then either answers at once
/// (a refusal) or hands the request to a ``ProxyExchange`` that streams it upstream. It holds back `read` while the
/// upstream cannot take more.
final class DownstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Which listener the request came in on.
    enum Listener: String {
        case local
        case tunnel
    }

    let worker: ForwardingWorker
    let listener: Listener
    /// One request per channel (an HTTP/2 stream) rather than a keep-alive HTTP/1.1 connection.
    let isHTTP2Stream: Bool
    /// The verified peer on a tunnel stream.
    private(set) var caller: PeerIdentity?
    private var exchange: ProxyExchange?
    /// The rest of a request that was already answered is read and dropped.
    private var discarding = false
    private var readHeld = false
    private var closeWhenIdle = false
    private var context: ChannelHandlerContext?
    /// On an HTTP/2 stream: the stream's handler, which writes the parts as frame payloads.
    private var stream: HTTP2StreamDownstream?

    init(worker: ForwardingWorker, listener: Listener, isHTTP2Stream: Bool) {
        self.worker = worker
        self.listener = listener
        self.isHTTP2Stream = isHTTP2Stream
    }

    var isWritable: Bool { context?.channel.isWritable ?? false }
    /// The gateway is draining: this HTTP/1.1 connection closes after the response in flight.
    var closeAfterResponse: Bool { closeWhenIdle }

    // MARK: Used by the exchange

    func write(_ part: HTTPServerResponsePart) {
        if let stream {
            stream.write(part, promise: nil)
        } else {
            context?.write(wrapOutboundOut(part), promise: nil)
        }
    }

    func flush() {
        if let stream {
            stream.flush()
        } else {
            context?.flush()
        }
    }

    private func writeAndFlush(_ part: HTTPServerResponsePart, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        if let stream {
            stream.write(part, promise: promise)
            stream.flush()
        } else {
            context.writeAndFlush(wrapOutboundOut(part), promise: promise)
        }
    }

    func resumeReading() {
        guard readHeld, let context else { return }
        readHeld = false
        context.read()
    }

    /// Writes the end of the response and flushes; closes the connection (HTTP/1.1) or resets the stream (HTTP/2)
    /// once it is written when `close` is set.
    func writeEnd(_ trailers: HTTPHeaders?, close: Bool) {
        guard let context else { return }
        guard close else {
            writeAndFlush(.end(trailers), promise: nil, context: context)
            return
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        writeAndFlush(.end(trailers), promise: promise, context: context)
        promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// Answers with a gateway error: JSON body, `meridian-decision` header.
    func respond(_ error: APIError, decision: String, version: HTTPVersion, close: Bool) {
        var body = context?.channel.allocator.buffer(capacity: 256) ?? ByteBuffer()
        body.writeString(error.jsonBody)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(body.readableBytes))
        headers.add(name: RequestTarget.Header.decision, value: decision)
        if !isHTTP2Stream && close { headers.add(name: "connection", value: "close") }
        write(.head(HTTPResponseHead(version: isHTTP2Stream ? .http2 : version, status: .init(statusCode: error.status), headers: headers)))
        write(.body(.byteBuffer(body)))
        writeEnd(nil, close: close)
    }

    /// Answers a tunnel probe (`GET /meridian/probe`).
    func respondProbe(_ json: String, version: HTTPVersion) {
        var body = context?.channel.allocator.buffer(capacity: json.utf8.count) ?? ByteBuffer()
        body.writeString(json)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(body.readableBytes))
        write(.head(HTTPResponseHead(version: isHTTP2Stream ? .http2 : version, status: .ok, headers: headers)))
        write(.body(.byteBuffer(body)))
        writeEnd(nil, close: false)
    }

    /// The exchange is done (answered or aborted); the rest of its request, if any, is dropped.
    func exchangeFinished(_ finished: ProxyExchange) {
        if exchange === finished { exchange = nil }
        if !finished.requestEnded { discarding = true }
        resumeReading()
    }

    /// Graceful shutdown of an HTTP/1.1 connection: closed now when idle, else after the response in flight.
    func drain() {
        guard !isHTTP2Stream, let context else { return }
        if exchange == nil {
            context.close(promise: nil)
        } else {
            closeWhenIdle = true
        }
    }

    /// Cuts the client off mid-response (the upstream failed after the head went out).
    func abort() {
        context?.close(promise: nil)
    }

    // MARK: ChannelHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if !isHTTP2Stream { worker.trackInbound(http1: self, channel: context.channel) }
        if listener == .tunnel, let parent = context.channel.parent {
            caller = try? parent.pipeline.syncOperations.handler(type: PeerIdentityHandler.self).peerIdentity
        }
    }

    /// Added behind an HTTP/2 stream's ``HTTP2StreamDownstream``, which then calls this handler's methods with its
    /// own context.
    func handlerAdded(context: ChannelHandlerContext, stream: HTTP2StreamDownstream) {
        self.stream = stream
        handlerAdded(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        stream = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received(unwrapInboundIn(data), context: context)
    }

    /// A request part, from the connection's HTTP/1 codec or the stream's ``HTTP2StreamDownstream``.
    func received(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            discarding = false
            if !isHTTP2Stream, head.headers.first(name: "expect")?.lowercased() == "100-continue" {
                // Answer for the upstream: the body is streamed anyway, and the gateway can take it now.
                write(.head(HTTPResponseHead(version: head.version, status: .continue)))
                flush()
            }
            if let admitted = worker.admit(head, from: self) {
                exchange = admitted
                admitted.start()
            } else {
                discarding = true
            }
        case .body(let buffer):
            exchange?.requestBody(buffer)
        case .end(let trailers):
            if let exchange {
                exchange.requestEnd(trailers)
            } else {
                discarding = false
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.downstreamReadComplete()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { exchange?.downstreamBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let exchange {
            self.exchange = nil
            exchange.downstreamClosed()
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let exchange {
            self.exchange = nil
            exchange.downstreamClosed()
        }
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if !isHTTP2Stream, event is IdleStateHandler.IdleStateEvent {
            if exchange == nil { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func read(context: ChannelHandlerContext) {
        if let exchange, exchange.shouldHoldDownstreamReads {
            readHeld = true
        } else {
            context.read()
        }
    }
}
