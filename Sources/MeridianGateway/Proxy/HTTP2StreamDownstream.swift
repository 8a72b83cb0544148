import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// The only handler of an incoming HTTP/2 stream's pipeline (a tunnel stream or a local h2c stream): it turns the
/// request's frame payloads into parts for its ``DownstreamHandler`` and the response parts that handler writes into
/// frame payloads, and passes the stream's events on to that handler.
///
/// It replaces NIO's `HTTP2FramePayloadToHTTP1ServerCodec` + ``DownstreamHandler`` pair: one handler per stream
/// instead of two, and each head translated once. It holds the last payload back until the next write or flush, so
/// a response's last DATA frame carries END_STREAM (no empty DATA frame to end the stream), and a head followed by
/// the end at once is one HEADERS frame with END_STREAM: a gRPC *Trailers-Only* answer goes out as one.
final class HTTP2StreamDownstream: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    let downstream: DownstreamHandler
    private var context: ChannelHandlerContext?
    private var held = HeldPayload()
    private var headReceived = false

    init(downstream: DownstreamHandler) {
        self.downstream = downstream
    }

    // MARK: Used by the downstream handler

    func write(_ part: HTTPServerResponsePart, promise: EventLoopPromise<Void>?) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        switch part {
        case .head(let head):
            let headers = HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders(proxyingResponse: head)))
            if head.status.code < 200 {
                writeHeld(context)
                context.write(wrapOutboundOut(headers), promise: promise)
                return
            }
            hold(headers, promise: promise, context: context)
        case .body(let body):
            hold(.data(.init(data: body)), promise: promise, context: context)
        case .end(let trailers):
            let (before, last) = held.end(trailers: trailers.map(HPACKHeaders.init(proxyingTrailers:)))
            if let before { context.write(wrapOutboundOut(before), promise: nil) }
            context.write(wrapOutboundOut(last), promise: promise)
        }
    }

    func flush() {
        guard let context else { return }
        writeHeld(context)
        context.flush()
    }

    /// Keeps `payload` back for the next write or flush (a write with a promise goes out at once).
    private func hold(_ payload: HTTP2Frame.FramePayload, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        if let promise {
            writeHeld(context)
            context.write(wrapOutboundOut(payload), promise: promise)
        } else if let previous = held.hold(payload) {
            context.write(wrapOutboundOut(previous), promise: nil)
        }
    }

    private func writeHeld(_ context: ChannelHandlerContext) {
        if let payload = held.take() { context.write(wrapOutboundOut(payload), promise: nil) }
    }

    // MARK: ChannelHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        downstream.handlerAdded(context: context, stream: self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        _ = held.take()
        downstream.handlerRemoved(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let headers):
            guard headReceived else {
                let head: HTTPRequestHead
                do {
                    head = try HTTPRequestHead(proxying: headers.headers, endStream: headers.endStream)
                } catch {
                    downstream.errorCaught(context: context, error: error)
                    return
                }
                headReceived = true
                downstream.received(.head(head), context: context)
                if headers.endStream { downstream.received(.end(nil), context: context) }
                return
            }
            downstream.received(.end(HTTPHeaders(regularFieldsOf: headers.headers)), context: context)
        case .data(let data):
            guard case .byteBuffer(let buffer) = data.data else { return }
            if buffer.readableBytes > 0 || !data.endStream { downstream.received(.body(buffer), context: context) }
            if data.endStream { downstream.received(.end(nil), context: context) }
        default:
            break   // no HTTP meaning; a reset reaches the handler as an error and the stream's close
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        downstream.channelReadComplete(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        downstream.channelWritabilityChanged(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        downstream.channelInactive(context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        _ = held.take()
        downstream.errorCaught(context: context, error: error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        downstream.userInboundEventTriggered(context: context, event: event)
    }

    func read(context: ChannelHandlerContext) {
        downstream.read(context: context)
    }
}
