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
    private var pending: HTTP2Frame.FramePayload?
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
            writePending(context)
            if head.status.code < 200 {
                context.write(wrapOutboundOut(.headers(.init(headers: HPACKHeaders(proxyingResponse: head)))), promise: promise)
                return
            }
            hold(.headers(.init(headers: HPACKHeaders(proxyingResponse: head))), promise: promise, context: context)
        case .body(let body):
            writePending(context)
            hold(.data(.init(data: body)), promise: promise, context: context)
        case .end(let trailers):
            if let trailers {
                writePending(context)
                context.write(wrapOutboundOut(.headers(.init(headers: HPACKHeaders(proxyingTrailers: trailers), endStream: true))), promise: promise)
                return
            }
            switch pending {
            case .headers(var headers):
                headers.endStream = true
                pending = nil
                context.write(wrapOutboundOut(.headers(headers)), promise: promise)
            case .data(var data):
                data.endStream = true
                pending = nil
                context.write(wrapOutboundOut(.data(data)), promise: promise)
            default:
                writePending(context)
                context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))), promise: promise)
            }
        }
    }

    func flush() {
        guard let context else { return }
        writePending(context)
        context.flush()
    }

    /// Keeps `payload` back for the next write or flush (a write with a promise goes out at once).
    private func hold(_ payload: HTTP2Frame.FramePayload, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        if let promise {
            context.write(wrapOutboundOut(payload), promise: promise)
        } else {
            pending = payload
        }
    }

    private func writePending(_ context: ChannelHandlerContext) {
        guard let payload = pending else { return }
        pending = nil
        context.write(wrapOutboundOut(payload), promise: nil)
    }

    // MARK: ChannelHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        downstream.handlerAdded(context: context, stream: self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        pending = nil
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
        pending = nil
        downstream.errorCaught(context: context, error: error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        downstream.userInboundEventTriggered(context: context, event: event)
    }

    func read(context: ChannelHandlerContext) {
        downstream.read(context: context)
    }
}
