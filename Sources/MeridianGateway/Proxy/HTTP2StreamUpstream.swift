import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// The only handler of an outgoing HTTP/2 stream's pipeline (to a peer's tunnel or a local h2c endpoint): it turns
/// the request parts its ``UpstreamHandler`` writes into frame payloads and the response's frame payloads into parts,
/// and passes the stream's events on to that handler.
///
/// It replaces NIO's `HTTP2FramePayloadToHTTP1ClientCodec` + ``UpstreamHandler`` pair: one handler per stream instead
/// of two, and each head translated once (``HPACKHeaders/init(proxyingRequest:scheme:)``). Like that codec, it holds
/// the last payload back until the next write or flush, so a request without a body is one HEADERS frame with
/// END_STREAM and a body's last DATA frame carries END_STREAM.
final class HTTP2StreamUpstream: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    let upstream: UpstreamHandler
    private let scheme: String
    private var context: ChannelHandlerContext?
    private var held = HeldPayload()
    private var requestMethod: HTTPMethod = .GET
    private var finalHeadReceived = false
    /// Whether the request's HEADERS were written (or are on their way) yet.
    private var headersWritten = false
    /// The request's HEADERS could not be written (the peer's GOAWAY arrived first): the stream was not processed,
    /// as good as refused, so the request may go elsewhere, a POST too.
    private(set) var headersNotSent = false

    init(upstream: UpstreamHandler, scheme: String = "https") {
        self.upstream = upstream
        self.scheme = scheme
    }

    // MARK: Used by the upstream handler

    func write(_ part: HTTPClientRequestPart) {
        guard let context else { return }
        switch part {
        case .head(let head):
            requestMethod = head.method
            hold(.headers(.init(headers: HPACKHeaders(proxyingRequest: head, scheme: scheme))), context)
        case .body(let body):
            hold(.data(.init(data: body)), context)
        case .end(let trailers):
            let (before, last) = held.end(trailers: trailers.map(HPACKHeaders.init(proxyingTrailers:)))
            if let before { writeChecked(before, context) }
            writeChecked(last, context)
        }
    }

    func flush() {
        guard let context else { return }
        if let payload = held.take() { writeChecked(payload, context) }
        context.flush()
    }

    private func hold(_ payload: HTTP2Frame.FramePayload, _ context: ChannelHandlerContext) {
        if let previous = held.hold(payload) { writeChecked(previous, context) }
    }

    /// Writes a payload; the request's HEADERS with a promise, to learn whether they could leave.
    private func writeChecked(_ payload: HTTP2Frame.FramePayload, _ context: ChannelHandlerContext) {
        guard !headersWritten, case .headers = payload else {
            context.write(wrapOutboundOut(payload), promise: nil)
            return
        }
        headersWritten = true
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenFailure { [weak self] _ in self?.headersNotSent = true }
        context.write(wrapOutboundOut(payload), promise: promise)
    }

    // MARK: ChannelHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        upstream.handlerAdded(context: context, stream: self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        _ = held.take()
        upstream.handlerRemoved(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let headers):
            guard finalHeadReceived else {
                let head: HTTPResponseHead
                do {
                    head = try HTTPResponseHead(proxying: headers.headers, requestMethod: requestMethod, endStream: headers.endStream)
                } catch {
                    upstream.errorCaught(context: context, error: error)
                    return
                }
                guard head.status.code >= 200 else {
                    upstream.received(.head(head), context: context)   // informational
                    return
                }
                finalHeadReceived = true
                upstream.received(.head(head), context: context)
                if headers.endStream { upstream.received(.end(nil), context: context) }
                return
            }
            upstream.received(.end(HTTPHeaders(regularFieldsOf: headers.headers)), context: context)
        case .data(let data):
            guard case .byteBuffer(let buffer) = data.data else { return }
            if buffer.readableBytes > 0 || !data.endStream { upstream.received(.body(buffer), context: context) }
            if data.endStream { upstream.received(.end(nil), context: context) }
        default:
            break   // no HTTP meaning; a reset reaches the handler as an error and the stream's close
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        upstream.channelReadComplete(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        upstream.channelWritabilityChanged(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        upstream.channelInactive(context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        _ = held.take()
        upstream.errorCaught(context: context, error: error)
    }

    func read(context: ChannelHandlerContext) {
        upstream.read(context: context)
    }
}
