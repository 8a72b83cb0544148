import NIOCore
import NIOHTTP2

/// Closes a tunnel connection on an error that reached the end of its pipeline (a failed handshake, a protocol
/// error), so it does not linger.
final class TunnelErrorHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
