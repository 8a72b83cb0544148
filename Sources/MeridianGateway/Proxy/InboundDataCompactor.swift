import NIOCore
import NIOHTTP2

/// Sits between the `NIOHTTP2Handler` and the stream multiplexer of every gateway HTTP/2 connection and gives each
/// inbound DATA frame a buffer of its own.
///
/// swift-nio-http2's parser hands DATA payloads out as slices of its read buffer, and that buffer is copied whole
/// (consumed bytes included, its capacity growing) each time bytes are appended while a slice of it is alive. A
/// stream whose destination stopped reading keeps its received frames waiting, so the copies pile up: with 4 MiB
/// windows one paused upload held 88-290 MiB. Copied here, a waiting frame holds its own bytes and nothing else, and
/// the parser's buffer stays uniquely owned; the cost is one copy of bytes that TLS has just decrypted anyway.
final class InboundDataCompactor: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        guard case .data(var payload) = frame.payload, case .byteBuffer(let bytes) = payload.data, bytes.readableBytes > 0 else {
            context.fireChannelRead(data)
            return
        }
        var own = context.channel.allocator.buffer(capacity: bytes.readableBytes)
        own.writeImmutableBuffer(bytes)
        payload.data = .byteBuffer(own)
        frame.payload = .data(payload)
        context.fireChannelRead(wrapInboundOut(frame))
    }
}
