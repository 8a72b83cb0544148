import NIOCore
import NIOHTTP1
import NIOHTTP2

/// The upstream end of a proxied request: the only handler of an HTTP/1.1 keep-alive connection to a local endpoint
/// (whose responses it reads with its own ``HTTP1Parser``, reused for one request after another), or, on an HTTP/2 stream to a peer or a
/// local h2c endpoint, the handler behind that stream's ``HTTP2StreamUpstream`` (which translates its parts to frame
/// payloads and passes it the stream's events).
///
/// It hands response parts to its ``ProxyExchange`` synchronously on the event loop and writes request parts the
/// exchange gives it (on an HTTP/1.1 connection as bytes, checked and framed by its ``HTTP1RequestEncoder``); it
/// holds back `read` while the client side cannot take more (backpressure).
final class UpstreamHandler: ChannelDuplexHandler {
    /// An HTTP/1.1 connection's bytes, parsed here; an HTTP/2 stream's parts come through ``received(_:)``.
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Never
    typealias OutboundOut = IOData

    enum Kind {
        /// One HTTP/2 stream, used once.
        case stream
        /// An HTTP/1.1 connection to a local endpoint, returned to the worker's idle list after a clean exchange.
        case connection(LocalEndpointSlot)
    }

    let kind: Kind
    private(set) var exchange: ProxyExchange?
    private var context: ChannelHandlerContext?
    /// On an HTTP/2 stream: the stream's handler, which writes the parts as frame payloads.
    private var stream: HTTP2StreamUpstream?
    /// On an HTTP/1.1 connection: what turns the parts into bytes.
    private var encoder = HTTP1RequestEncoder()
    /// On an HTTP/1.1 connection: its responses, read from its bytes.
    private var parser = HTTP1Parser(.response, maxHeadBytes: UpstreamHandler.maxResponseHeadBytes)
    /// On an HTTP/1.1 connection: the methods of the requests written and not yet answered, oldest first (a response
    /// to HEAD has no body).
    private var requestMethods = LazyQueue<HTTPMethod>()   // (lazy: an HTTP/2 stream, used once, never needs one)
    /// Inside the parser: a close it brings about (the exchange ends the connection) does not parse again.
    private var parsing = false
    private var readHeld = false
    /// When an HTTP/1.1 connection was last checked in idle (the worker closes it after `upstreamIdleTimeout`).
    var idleSince = NIODeadline.uptimeNanoseconds(0)
    /// Called when an idle keep-alive connection closes, so the worker forgets it.
    var onIdleClose: ((UpstreamHandler) -> Void)?

    /// The largest response head read from a local endpoint (NIO's decoder's default).
    static let maxResponseHeadBytes = 80 * 1024

    init(kind: Kind) {
        self.kind = kind
    }

    /// On an HTTP/2 stream, the stream itself.
    private var muxStream: HTTP2MuxStream? { stream?.stream }
    var isActive: Bool { stream != nil ? muxStream?.isActive ?? false : context?.channel.isActive ?? false }
    var isWritable: Bool { stream != nil ? muxStream?.isWritable ?? false : context?.channel.isWritable ?? false }
    /// The HTTP/1.1 connection's channel.
    var channel: (any Channel)? { context?.channel }

    // MARK: Used by the exchange

    func bind(_ exchange: ProxyExchange) {
        self.exchange = exchange
    }

    /// Writes a request part. On an HTTP/1.1 connection a part HTTP/1.1 cannot carry is not written and its
    /// ``UnsendableRequest`` thrown for the exchange to answer (nothing of it left: a refused head leaves the
    /// connection clean).
    func write(_ part: consuming RequestPart) throws(UnsendableRequest) {
        if case .head(let head) = part { return try writeHead(head, version: nil) }
        if let stream {
            stream.write(part)
        } else if let context {
            try encoder.encode(part, allocator: context.channel.allocator, promise: nil) { context.write(wrapOutboundOut($0), promise: $1) }
        }
    }

    /// The request's head, as ``write(_:)`` would write it in a part (without the copies a part costs), its version
    /// set to `version` when one is given (an HTTP/1.1 endpoint's).
    func writeHead(_ head: consuming RequestHead, version: HTTPVersion?) throws(UnsendableRequest) {
        if let stream {
            stream.writeHead(head)
        } else if let context {
            let method = head.method
            try encoder.encodeHead(head, version: version, allocator: context.channel.allocator, promise: nil) { context.write(wrapOutboundOut($0), promise: $1) }
            requestMethods.append(method)
        }
    }

    func flush() {
        if let stream {
            stream.flush()
        } else {
            context?.flush()
        }
    }

    /// Lets a held `read` through (the client side can take more).
    func resumeReading() {
        guard readHeld else { return }
        readHeld = false
        if stream != nil {
            muxStream?.resumeReading()
        } else {
            context?.read()
        }
    }

    /// Detaches from the exchange. `reusable` means the exchange ended cleanly (request sent whole, response
    /// ended): an HTTP/1.1 connection then goes back to the idle list and an HTTP/2 stream is left to close by
    /// itself (both ends sent END_STREAM). Otherwise the connection is closed, or the stream reset.
    func release(reusable: Bool, checkIn: (UpstreamHandler) -> Void) {
        exchange = nil
        switch kind {
        case .stream:
            // Resetting a finished stream would send RST_STREAM for every request (and trip the peer's reset-rate
            // limit).
            if !reusable { muxStream?.reset() }
        case .connection:
            guard let context else { return }
            if reusable && context.channel.isActive {
                resumeReading()
                checkIn(self)
            } else {
                context.close(promise: nil)
            }
        }
    }

    // MARK: HTTP/2 stream events (from its ``HTTP2StreamUpstream``)

    /// Bound to an HTTP/2 stream, whose ``HTTP2StreamUpstream`` writes the parts as frame payloads.
    func attach(_ stream: HTTP2StreamUpstream) {
        self.stream = stream
    }

    func streamReadComplete() {
        exchange?.upstreamReadComplete()
        if let exchange, !exchange.downstreamWritable {
            readHeld = true
            muxStream?.pauseReading()
        }
    }

    func streamBecameWritable() {
        exchange?.upstreamBecameWritable()
    }

    /// The stream closed (cleanly, reset, or with its connection).
    func streamClosed(_ error: (any Error)?) {
        // Never processed (its HEADERS did not leave, or it is above the peer's GOAWAY): as good as refused.
        let notProcessed = stream?.headersNotSent == true
            || error.map { HTTP2ConnectionObserver.streamWasNotProcessed($0, connection: muxStream?.connection) } == true
        let id = muxStream?.id ?? .rootStream
        stream = nil   // the stream and its owner keep this handler no longer
        guard let exchange else { return }
        self.exchange = nil
        exchange.upstreamClosed(self, error: notProcessed ? NIOHTTP2Errors.streamClosed(streamID: id, errorCode: .refusedStream) : error)
    }

    /// The response could not be read (a malformed head): the exchange fails and the stream is reset.
    func streamFailed(_ error: any Error) {
        if let exchange {
            self.exchange = nil
            exchange.upstreamClosed(self, error: error)
        }
        muxStream?.reset(.protocolError)
    }

    // MARK: ChannelHandler (an HTTP/1.1 connection)

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if self.context === context { self.context = nil }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        parsing = true
        defer { parsing = false }
        do {
            try parser.parse(unwrapInboundIn(data), responseTo: { requestMethods.popFirst() ?? .GET }) { receivedParsed($0) }
        } catch {
            errorCaught(context: context, error: error)
        }
    }

    private func receivedParsed(_ part: consuming HTTP1Parser.Part) {
        switch consume part {
        case .response(let head): received(.head(consume head))
        case .body(let body): received(.body(body))
        case .end(let trailers): received(.end(trailers))
        case .request: break
        }
    }

    /// A response part, from the connection's bytes or the stream's ``HTTP2StreamUpstream``.
    /// (Passed on owned, so that the exchange's changes to a head's fields change them in place: a part the caller
    /// still held made each change a copy of the head's buffers.)
    func received(_ part: consuming ReceivedResponsePart) {
        if let exchange {
            exchange.upstreamReceived(part, from: self)
        } else if case .connection = kind {
            // An idle keep-alive connection got bytes nobody asked for: it cannot be trusted any more.
            context?.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { exchange?.upstreamBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A body that runs until the close ends here; a response cut short is an error. (Not when the close came from
        // handling a part: the parser is busy, and the exchange is ending the connection itself.)
        if !parsing, case .connection = kind {
            do {
                try parser.finish { receivedParsed($0) }
            } catch {
                if let exchange {
                    self.exchange = nil
                    exchange.upstreamClosed(self, error: error)
                }
            }
        }
        if let exchange {
            self.exchange = nil
            exchange.upstreamClosed(self, error: nil)
        } else {
            onIdleClose?(self)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let exchange {
            self.exchange = nil
            exchange.upstreamClosed(self, error: error)
        }
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if let exchange, !exchange.downstreamWritable {
            readHeld = true
        } else {
            context.read()
        }
    }
}
