import NIOCore
import NIOHTTP1
import NIOHTTP2

/// The upstream end of a proxied request: the last handler of an HTTP/1.1 keep-alive connection to a local endpoint
/// (behind NIO's HTTP/1 client codec, reused for one request after another), or, on an HTTP/2 stream to a peer or a
/// local h2c endpoint, the handler behind that stream's ``HTTP2StreamUpstream`` (which translates its parts to frame
/// payloads and passes it the stream's events).
///
/// It hands response parts to its ``ProxyExchange`` synchronously on the event loop and writes request parts the
/// exchange gives it (on an HTTP/1.1 connection as bytes, checked and framed by its ``HTTP1RequestEncoder``); it
/// holds back `read` while the client side cannot take more (backpressure).
final class UpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Never
    typealias OutboundOut = IOData

    enum Kind {
        /// One HTTP/2 stream, used once.
        case stream
        /// An HTTP/1.1 connection to a local endpoint, returned to the worker's idle list after a clean exchange.
        case connection(LocalEndpoint)
    }

    let kind: Kind
    private(set) var exchange: ProxyExchange?
    private var context: ChannelHandlerContext?
    /// On an HTTP/2 stream: the stream's handler, which writes the parts as frame payloads.
    private var stream: HTTP2StreamUpstream?
    /// On an HTTP/1.1 connection: what turns the parts into bytes.
    private var encoder: HTTP1RequestEncoder
    private var readHeld = false
    /// When an HTTP/1.1 connection was last checked in idle (the worker closes it after `upstreamIdleTimeout`).
    var idleSince = NIODeadline.uptimeNanoseconds(0)
    /// Called when an idle keep-alive connection closes, so the worker forgets it.
    var onIdleClose: ((UpstreamHandler) -> Void)?

    /// `decoder`: on an HTTP/1.1 connection, the decoder of its responses, told each request head.
    init(kind: Kind, decoder: HTTPResponseDecoder? = nil) {
        self.kind = kind
        encoder = HTTP1RequestEncoder(decoder: decoder)
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
    func write(_ part: HTTPClientRequestPart) throws(UnsendableRequest) {
        if let stream {
            stream.write(part)
        } else if let context {
            try encoder.encode(part, allocator: context.channel.allocator, promise: nil) { context.write(wrapOutboundOut($0), promise: $1) }
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
        received(unwrapInboundIn(data))
    }

    /// A response part, from the connection's HTTP/1 codec or the stream's ``HTTP2StreamUpstream``.
    func received(_ part: HTTPClientResponsePart) {
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
