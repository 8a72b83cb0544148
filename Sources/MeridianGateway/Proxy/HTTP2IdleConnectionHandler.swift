import NIOCore
import NIOHTTP2

/// Closes an HTTP/2 connection (local h2c client) that has had no open stream and no traffic for the idle timeout;
/// it sits after the `NIOHTTP2Handler`, counting streams from its events, behind an `IdleStateHandler`.
final class HTTP2IdleConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame

    private var openStreams = 0

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is NIOHTTP2StreamCreatedEvent:
            openStreams += 1
        case is StreamClosedEvent:
            openStreams = max(0, openStreams - 1)
        case is IdleStateHandler.IdleStateEvent:
            if openStreams == 0 { context.close(promise: nil) }
            return
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }
}
