import NIOCore
import NIOHTTP1
import NIOHTTP2

/// The upstream end of a proxied request: the last handler of an HTTP/1.1 keep-alive connection to a local endpoint
/// (behind NIO's HTTP/1 client codec, reused for one request after another), or, on an HTTP/2 stream to a peer or a
/// local h2c endpoint, the handler behind that stream's ``HTTP2StreamUpstream`` (which translates its parts to frame
/// payloads and passes it the stream's events).
///
/// It hands response parts to its ``ProxyExchange`` synchronously on the event loop and writes request parts the
/// exchange gives it; it holds back `read` while the client side cannot take more (backpressure).
final class UpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

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
    private var readHeld = false
    /// When an HTTP/1.1 connection was last checked in idle (the worker closes it after `upstreamIdleTimeout`).
    var idleSince = NIODeadline.uptimeNanoseconds(0)
    /// The request's HEADERS could not be written on this stream (the peer's GOAWAY arrived first).
    private var headersNotSent: Bool { stream?.headersNotSent ?? false }
    /// Called when an idle keep-alive connection closes, so the worker forgets it.
    var onIdleClose: ((UpstreamHandler) -> Void)?

    init(kind: Kind) {
        self.kind = kind
    }

    var isActive: Bool { context?.channel.isActive ?? false }
    var isWritable: Bool { context?.channel.isWritable ?? false }
    var channel: (any Channel)? { context?.channel }

    // MARK: Used by the exchange

    func bind(_ exchange: ProxyExchange) {
        self.exchange = exchange
    }

    func write(_ part: HTTPClientRequestPart) {
        if let stream {
            stream.write(part)
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

    /// Lets a held `read` through (the client side can take more).
    func resumeReading() {
        guard readHeld, let context else { return }
        readHeld = false
        context.read()
    }

    /// Detaches from the exchange. `reusable` means the exchange ended cleanly (request sent whole, response
    /// ended): an HTTP/1.1 connection then goes back to the idle list and an HTTP/2 stream is left to close by
    /// itself (both ends sent END_STREAM). Otherwise the connection is closed, or the stream reset.
    func release(reusable: Bool, checkIn: (UpstreamHandler) -> Void) {
        exchange = nil
        guard let context else { return }
        switch kind {
        case .stream:
            // Closing a finished stream's channel early would send RST_STREAM for every request (and trip the
            // peer's reset-rate limit).
            if !reusable && context.channel.isActive { context.close(promise: nil) }
        case .connection:
            if reusable && context.channel.isActive {
                resumeReading()
                checkIn(self)
            } else {
                context.close(promise: nil)
            }
        }
    }

    // MARK: ChannelHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// Added behind an HTTP/2 stream's ``HTTP2StreamUpstream``, which then calls this handler's methods with its own
    /// context.
    func handlerAdded(context: ChannelHandlerContext, stream: HTTP2StreamUpstream) {
        self.context = context
        self.stream = stream
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        stream = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received(unwrapInboundIn(data), context: context)
    }

    /// A response part, from the connection's HTTP/1 codec or the stream's ``HTTP2StreamUpstream``.
    func received(_ part: HTTPClientResponsePart, context: ChannelHandlerContext) {
        if let exchange {
            exchange.upstreamReceived(part, from: self)
        } else if case .connection = kind {
            // An idle keep-alive connection got bytes nobody asked for: it cannot be trusted any more.
            context.close(promise: nil)
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
            exchange.upstreamClosed(self, error: headersNotSent ? Self.notProcessed(context) : nil)
        } else {
            onIdleClose?(self)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let exchange {
            self.exchange = nil
            if case .stream = kind, headersNotSent || HTTP2ConnectionObserver.streamWasNotProcessed(error, connection: context.channel.parent) {
                // Never processed (its HEADERS did not leave, or it is above the peer's GOAWAY): as good as refused.
                exchange.upstreamClosed(self, error: Self.notProcessed(context))
            } else {
                exchange.upstreamClosed(self, error: error)
            }
        }
        context.close(promise: nil)
    }

    /// The error a stream that the peer never processed reports: `REFUSED_STREAM`, which the exchange retries.
    private static func notProcessed(_ context: ChannelHandlerContext) -> any Error {
        let id = (try? context.channel.syncOptions?.getOption(HTTP2StreamChannelOptions.streamID)) ?? .rootStream
        return NIOHTTP2Errors.streamClosed(streamID: id, errorCode: .refusedStream)
    }

    func read(context: ChannelHandlerContext) {
        if let exchange, !exchange.downstreamWritable {
            readHeld = true
        } else {
            context.read()
        }
    }
}
