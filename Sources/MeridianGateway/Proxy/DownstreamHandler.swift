import MeridianModel
import MeridianPKI
import NIOCore
import NIOHTTP1
import NIOHTTP2

/// The client end of proxied requests: the last handler of a local HTTP/1.1 connection (which it reads with its own
/// ``HTTP1Parser``), or, on a local h2c stream or a tunnel stream, the handler behind that stream's ``HTTP2StreamDownstream``
/// (which translates frame payloads to its parts and passes it the stream's events).
///
/// For each request head it asks its event loop's ``ForwardingWorker`` for a decision, then either answers at once
/// (a refusal) or hands the request to a ``ProxyExchange`` that streams it upstream. It holds back `read` while the
/// upstream cannot take more.
///
/// On an HTTP/1.1 connection it also does what NIO's `HTTPServerPipelineHandler`, `HTTPServerProtocolErrorHandler`
/// and `IdleStateHandler` would, without their cost per request:
/// - a request pipelined behind one still being answered is held, and reading with it, until that response is done
///   (NIO's handler stops reading after every request, two `epoll_ctl` calls per request);
/// - a request the parser refuses gets a JSON error (431 for oversized headers, 400 otherwise), then the close;
/// - ``lastActive`` lets the worker's sweep close a connection idle for the idle timeout.
final class DownstreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    /// An HTTP/1.1 connection's bytes, parsed here (``HTTP1Parser``); an HTTP/2 stream's parts come through
    /// ``received(_:)``.
    typealias InboundIn = ByteBuffer
    /// A local connection that turned out to speak h2c: its bytes, passed on to the handlers that read it.
    typealias InboundOut = ByteBuffer
    /// An HTTP/1.1 connection's bytes: this handler frames and encodes its responses (``BodyFraming``,
    /// ``HTTP1HeadWriter``); HTTP/2 streams are written through their ``HTTP2StreamDownstream``. (It is the last
    /// handler: what passes it outbound is bytes too.)
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// Which listener the request came in on.
    enum Listener: String {
        case local
        case tunnel
    }

    let worker: ForwardingWorker
    let listener: Listener
    /// One request per channel (an HTTP/2 stream) rather than a keep-alive HTTP/1.1 connection.
    let isHTTP2Stream: Bool
    /// The verified peer's cluster on a tunnel stream (the cluster alone: admission reads it on every request, and a
    /// copy of the whole identity retained and released its three strings).
    let callerCluster: String?
    private var exchange: ProxyExchange?
    /// The rest of a request that was already answered is read and dropped.
    private var discarding = false
    private var readHeld = false
    private var closeWhenIdle = false
    /// On an HTTP/2 stream: the end of the response was written, so a clean close of the stream is its success.
    private var responseEnded = false
    private var context: ChannelHandlerContext?
    /// On an HTTP/2 stream: the stream's handler, which writes the parts as frame payloads.
    private var stream: HTTP2StreamDownstream?
    /// HTTP/1.1: the parts of requests pipelined behind the exchange in flight, in order.
    private var pipelined = LazyQueue<ReceivedRequestPart>()
    /// HTTP/1.1: when the connection last read, or last finished a response.
    private(set) var lastActive = NIODeadline.now()
    /// HTTP/1.1: the connection closes once its last response is written; later requests are not processed (RFC 9112
    /// 9.6), pipelined or not.
    private var closing = false
    /// HTTP/1.1: this connection's slot in its worker's ``HandlerSlots`` (-1: none).
    var trackingSlot = -1
    /// HTTP/1.1: the response in flight has sent its head (so an error can no longer be answered with one).
    private var responseStarted = false
    /// HTTP/1.1: the requests read from the connection's bytes.
    private var parser: HTTP1Parser
    /// HTTP/1.1: the parser refused what followed complete requests; answered once their responses are done.
    private var pendingParseError: HTTPParserError?
    /// HTTP/1.1: the method of the request being answered (its response's framing depends on it).
    private var requestMethod: HTTPMethod = .GET
    /// HTTP/1.1: how the body of the response in flight is framed (``BodyFraming/response(_:requestMethod:)``).
    private var responseFraming = BodyFraming.none
    /// HTTP/1.1: what was written since the last flush, not yet handed to the channel: a response's head and the small
    /// body parts after it go to the channel as one buffer when the exchange flushes. (Each channel write cost about
    /// 1,400 instructions in NIO's pipeline and pending-write queue; copying a 1 KiB body into the head's buffer costs
    /// about 100.) A part larger than ``stagedPartLimit`` is written as it is, after what was staged.
    private var staged: ByteBuffer?
    /// The largest body part copied into ``staged``.
    static let stagedPartLimit = 8 * 1024
    /// The most bytes staged: a part that would take them past it sends them to the channel first (still unflushed).
    static let stagedLimit = 64 * 1024

    /// A local listener's connection until its first bytes tell HTTP/1.1 from h2c (``ProtocolDetector``): what
    /// builds the pipeline behind this handler for h2c (which then passes the bytes on and leaves), and the bytes read
    /// so far. (This handler tells them apart where a handler of its own was added and removed per connection, about
    /// 3,500 instructions.)
    private var h2c: ((any Channel) throws -> Void)?
    private var undetected: ByteBuffer?

    /// - Parameters:
    ///   - maxHeaderBytes: HTTP/1.1: the largest request head read (larger is answered 431).
    ///   - h2c: a local listener's connection: how to build its pipeline should it speak h2c.
    init(worker: ForwardingWorker, listener: Listener, isHTTP2Stream: Bool, callerCluster: String? = nil, maxHeaderBytes: Int = 64 * 1024,
         h2c: ((any Channel) throws -> Void)? = nil) {
        parser = HTTP1Parser(.request, maxHeadBytes: maxHeaderBytes, memo: worker.requestFieldsMemo)
        self.worker = worker
        self.listener = listener
        self.isHTTP2Stream = isHTTP2Stream
        self.callerCluster = callerCluster
        self.h2c = h2c
    }

    var isWritable: Bool { stream?.stream.isWritable ?? context?.channel.isWritable ?? false }
    private var allocator: ByteBufferAllocator { stream?.stream.allocator ?? context?.channel.allocator ?? ByteBufferAllocator() }
    /// The gateway is draining: this HTTP/1.1 connection closes after the response in flight.
    var closeAfterResponse: Bool { closeWhenIdle }

    // MARK: Used by the exchange

    func write(_ part: consuming ResponsePart) {
        if let stream {
            if part.isFinalHead { responseStarted = true }
            stream.write(part, promise: nil)
            return
        }
        guard let context else { return }
        // Consumed: a part switched over was copied first (a retain and a release of each of its head's references).
        switch consume part {
        case .head(var head):
            var scan = HTTP1HeadWriter.FieldScan(head.headers)
            var room = 0
            if head.status.code >= 200 {
                responseStarted = true
                responseFraming = BodyFraming.response(&head, requestMethod: requestMethod, scan: &scan)
                // Room after the head for a body that will be copied after it.
                if responseFraming == .length, let length = head.headers.declaredLength, length <= Self.stagedPartLimit { room = length }
            }
            stage(HTTP1HeadWriter.responseHead(head, fieldsSize: scan.size, reserving: room, allocator: context.channel.allocator), context: context)
        case .body(let body):
            switch (responseFraming, body) {
            case (.none, _):
                break
            case (.length, .byteBuffer(let buffer)), (.untilClose, .byteBuffer(let buffer)):
                stage(buffer, context: context)
            case (.chunked, .byteBuffer(let buffer)) where buffer.readableBytes > 0 && buffer.readableBytes <= Self.stagedPartLimit:
                if canCopyAfterStaged(buffer.readableBytes) {
                    BodyFraming.appendChunk(buffer, to: &staged!)
                } else {
                    writeStaged(context: context)
                    staged = BodyFraming.chunk(buffer, allocator: context.channel.allocator)
                }
            default:
                writeStaged(context: context)
                BodyFraming.write(body, responseFraming, allocator: context.channel.allocator, promise: nil) { context.write(wrapOutboundOut($0), promise: $1) }
            }
        case .end(let trailers):
            writeEnd(trailers, close: false)   // (the exchange calls writeEnd itself)
        }
    }

    /// Adds `bytes` to what goes out at the next flush: copied after what is staged when both are small, else kept as
    /// they are (a part that is not small is written at once, after what was staged).
    private func stage(_ bytes: ByteBuffer, context: ChannelHandlerContext) {
        if canCopyAfterStaged(bytes.readableBytes) {
            staged!.writeImmutableBuffer(bytes)
            return
        }
        writeStaged(context: context)
        if bytes.readableBytes <= Self.stagedPartLimit {
            staged = bytes
        } else {
            context.write(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
        }
    }

    /// Whether a part of `count` bytes is copied after what is staged: the part is small, and the staged bytes stay
    /// within ``stagedLimit``.
    private func canCopyAfterStaged(_ count: Int) -> Bool {
        guard let staged else { return false }
        return count <= Self.stagedPartLimit && staged.readableBytes + count <= Self.stagedLimit
    }

    /// Hands what was staged to the channel (unflushed), with `promise`.
    private func writeStaged(context: ChannelHandlerContext, promise: EventLoopPromise<Void>? = nil) {
        guard let bytes = staged else { return }
        staged = nil
        context.write(wrapOutboundOut(.byteBuffer(bytes)), promise: promise)
    }

    func flush() {
        if let stream {
            stream.flush()
        } else if let context {
            writeStaged(context: context)
            context.flush()
        }
    }

    /// Writes the end of the response (`framing`: how an HTTP/1.1 response's body was framed) and flushes.
    private func writeEndAndFlush(_ trailers: HeaderFields?, framing: BodyFraming, promise: EventLoopPromise<Void>?) {
        if let stream {
            stream.write(.end(trailers), promise: promise)
            stream.flush()
        } else if let context {
            if let end = BodyFraming.end(trailers, framing, allocator: context.channel.allocator) {
                stage(end, context: context)
            }
            if staged != nil {
                writeStaged(context: context, promise: promise)
            } else if let promise {
                // An empty write, so that the promise completes once all before it is written (a close waits for it).
                context.write(wrapOutboundOut(.byteBuffer(ByteBuffer())), promise: promise)
            }
            context.flush()
        } else {
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    func resumeReading() {
        guard readHeld, pipelined.isEmpty else { return }
        readHeld = false
        if let stream {
            stream.stream.resumeReading()
        } else {
            context?.read()
        }
    }

    /// Writes the end of the response and flushes; closes the connection (HTTP/1.1) or resets the stream (HTTP/2)
    /// once it is written when `close` is set.
    func writeEnd(_ trailers: HeaderFields?, close: Bool) {
        // Writing the end closes an HTTP/2 stream at once when the request has ended too (the exchange is told by its
        // own call, not by the close).
        if stream != nil { responseEnded = true }
        responseStarted = false
        let framing = responseFraming
        // An HTTP/1.0 client's body without a length ends with the connection.
        let close = close || framing == .untilClose
        responseFraming = .none
        requestMethod = .GET   // an answer to a request not yet parsed (a parse error) is not framed as the last one
        if close && stream == nil { closing = true }
        guard close, let eventLoop = stream?.stream.eventLoop ?? context?.eventLoop else {
            writeEndAndFlush(trailers, framing: framing, promise: nil)
            return
        }
        let promise = eventLoop.makePromise(of: Void.self)
        writeEndAndFlush(trailers, framing: framing, promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { _ in self.abort() }
    }

    /// Answers with a gateway error: JSON body, `meridian-decision` header.
    func respond(_ error: APIError, decision: String, version: HTTPVersion, close: Bool) {
        var body = allocator.buffer(capacity: 256)
        body.writeString(error.jsonBody)
        var headers = HeaderFields()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(body.readableBytes))
        headers.add(name: RequestTarget.Header.decision, value: decision)
        if !isHTTP2Stream && close { headers.add(name: "connection", value: "close") }
        write(.head(ResponseHead(version: isHTTP2Stream ? .http2 : version, status: .init(statusCode: error.status), headers: headers)))
        write(.body(.byteBuffer(body)))
        writeEnd(nil, close: close)
    }

    /// Answers a tunnel probe (`GET /meridian/probe`).
    func respondProbe(_ json: String, version: HTTPVersion) {
        var body = allocator.buffer(capacity: json.utf8.count)
        body.writeString(json)
        var headers = HeaderFields()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(body.readableBytes))
        write(.head(ResponseHead(version: isHTTP2Stream ? .http2 : version, status: .ok, headers: headers)))
        write(.body(.byteBuffer(body)))
        writeEnd(nil, close: false)
    }

    /// The exchange is done (answered or aborted); the rest of its request, if any, is dropped. Requests pipelined
    /// behind it go on, on the next tick (this runs inside the exchange's last step). It ended at `now`: the
    /// connection's idle time counts from then.
    func exchangeFinished(_ finished: ProxyExchange, at now: NIODeadline) {
        if exchange === finished { exchange = nil }
        if !finished.requestEnded { discarding = true }
        guard !isHTTP2Stream else {
            resumeReading()
            return
        }
        lastActive = now
        if pipelined.isEmpty && pendingParseError == nil {
            resumeReading()
        } else {
            context?.eventLoop.assumeIsolated().execute { self.replayPipelined() }
        }
    }

    /// HTTP/1.1: no request in flight and none waiting, so the idle timeout runs.
    var isIdle: Bool { exchange == nil && pipelined.isEmpty }

    /// Closes an idle HTTP/1.1 connection (the worker's sweep, once the idle timeout has passed).
    func closeIdle() {
        guard isIdle else { return }
        context?.close(promise: nil)
    }

    /// Hands the pipelined parts on, up to the next request that must wait for the one it starts; after the last, the
    /// answer to what the codec refused behind them, if anything.
    private func replayPipelined() {
        guard context != nil else { return }
        while !closing, let part = pipelined.first {
            if case .head = part, exchange != nil { break }
            pipelined.removeFirst()
            process(part)
        }
        if closing {
            pipelined.removeAll()
            return
        }
        exchange?.downstreamReadComplete()
        guard pipelined.isEmpty else { return }
        if exchange == nil, let error = pendingParseError {
            pendingParseError = nil
            respond(Self.refusal(error), decision: "bad-request", version: .http1_1, close: true)
            return
        }
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
        if let stream {
            stream.stream.reset()
        } else {
            closing = true
            context?.close(promise: nil)
        }
    }

    // MARK: ChannelHandler

    // MARK: HTTP/2 stream events (from its ``HTTP2StreamDownstream``)

    /// Bound to an HTTP/2 stream, whose ``HTTP2StreamDownstream`` writes the parts as frame payloads.
    func attach(_ stream: HTTP2StreamDownstream) {
        self.stream = stream
    }

    func streamReadComplete() {
        exchange?.downstreamReadComplete()
        if let exchange, exchange.shouldHoldDownstreamReads {
            readHeld = true
            stream?.stream.pauseReading()
        }
    }

    func streamBecameWritable() {
        exchange?.downstreamBecameWritable()
    }

    /// The stream closed (cleanly, reset by the client, or with its connection).
    func streamClosed(_ error: (any Error)?) {
        stream = nil   // the stream and its owner keep this handler no longer
        if error == nil && responseEnded { return }
        dropExchange()
    }

    /// The request could not be read (a malformed head): the stream is reset.
    func streamFailed(_ error: any Error) {
        dropExchange(malformed: error)
        stream?.stream.reset(.protocolError)
    }

    /// The client is gone (or its request cannot be read: `malformed`): the exchange in flight, if any, is told so
    /// and let go.
    private func dropExchange(malformed: (any Error)? = nil) {
        guard let exchange else { return }
        self.exchange = nil
        exchange.downstreamClosed(malformed: malformed)
    }

    // MARK: ChannelHandler (an HTTP/1.1 connection)

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        worker.trackInbound(http1: self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        staged = nil
        undetected = nil
        worker.untrackInbound(http1: self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if let h2c {
            if undetected == nil {
                undetected = bytes
            } else {
                undetected!.writeBuffer(&bytes)
            }
            guard let read = undetected, let wire = ProtocolDetector.detect(read.readableBytesView) else { return }
            self.h2c = nil
            undetected = nil
            guard wire == .http1 else {
                do {
                    try h2c(context.channel)
                } catch {
                    context.fireErrorCaught(error)
                    context.close(promise: nil)
                    return
                }
                context.fireChannelRead(wrapInboundOut(read))
                context.fireChannelReadComplete()
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                return
            }
            bytes = read
        }
        do {
            try parser.parse(bytes) { part in
                switch consume part {
                case .request(let head): received(.head(consume head))
                case .body(let body): received(.body(body))
                case .end(let trailers): received(.end(trailers))
                case .response: break
                }
            }
        } catch {
            parseFailed(error, context: context)
        }
    }

    /// A request part, from the connection's bytes or the stream's ``HTTP2StreamDownstream``.
    /// (Passed on owned, down to admission, so that relaying a head changes its fields in place: a part the caller
    /// still held made the change a copy of the head's buffers.)
    func received(_ part: consuming ReceivedRequestPart) {
        if closing {
            return
        } else if !pipelined.isEmpty {
            pipelined.append(part)
        } else if case .head = part, exchange != nil {
            // HTTP/1.1 pipelining: the exchange in flight has read its whole request; this one waits for its response.
            pipelined.append(part)
        } else {
            process(part)
        }
    }

    private func process(_ part: consuming ReceivedRequestPart) {
        switch consume part {
        case .head(let head):
            discarding = false
            requestMethod = head.method
            // Admitted: an HTTP/1.1 client that waits for `100 Continue` is told to send its body now, for the
            // upstream (the body is streamed anyway). A refused request gets its refusal instead, and an HTTP/1.0
            // client is not answered 100 (RFC 9110 10.1.1). (Read before admission, which takes the head.)
            let version = head.version
            let continues = !isHTTP2Stream && version.major == 1 && version.minor >= 1
                && head.headers.first(.expect)?.lowercased() == "100-continue"
            if let admitted = worker.admit(consume head, from: self) {
                if continues {
                    write(.head(ResponseHead(version: version, status: .continue)))
                    flush()
                }
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
        // Idle time counts from the last read or the last exchange's end: with an exchange in flight the connection
        // is not idle, and its end stamps the time (one reading of the clock per request, not two).
        if let exchange {
            exchange.downstreamReadComplete()
        } else {
            lastActive = .now()
        }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { exchange?.downstreamBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        pipelined.removeAll()
        pendingParseError = nil
        dropExchange()
        context.fireChannelInactive()
    }

    /// A parse error (the parser reads no further) gets a JSON answer, then the close, wherever one can still be
    /// given: after the responses to the complete requests before it, in order; in place of the response to a request
    /// whose body it cut, when that response has not started. A body that was being dropped after its request was
    /// answered closes the connection.
    private func parseFailed(_ error: HTTPParserError, context: ChannelHandlerContext) {
        if !closing {
            if exchange?.requestEnded == false {
                dropExchange()
                if !responseStarted {
                    respond(Self.refusal(error), decision: "bad-request", version: .http1_1, close: true)
                    return
                }
            } else if exchange != nil || !pipelined.isEmpty {
                pendingParseError = error
                return
            } else if !discarding {
                respond(Self.refusal(error), decision: "bad-request", version: .http1_1, close: true)
                return
            }
        }
        errorCaught(context: context, error: error)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        dropExchange()
        closing = true
        context.close(promise: nil)
    }

    /// The answer to a request the HTTP/1 parser refused.
    static func refusal(_ error: HTTPParserError) -> APIError {
        switch error {
        case .headerOverflow:
            APIError(status: 431, code: .invalidField,
                     message: "the request's header fields are larger than the gateway takes (its --max-header-bytes); send fewer or shorter headers",
                     field: "headers")
        default:
            APIError(status: 400, code: .invalidField, message: "the request is not valid HTTP/1.1 (\(error)); fix the client that sent it",
                     field: "request")
        }
    }

    func read(context: ChannelHandlerContext) {
        if !pipelined.isEmpty || pendingParseError != nil {
            readHeld = true
        } else if let exchange, exchange.shouldHoldDownstreamReads {
            readHeld = true
        } else {
            context.read()
        }
    }
}
