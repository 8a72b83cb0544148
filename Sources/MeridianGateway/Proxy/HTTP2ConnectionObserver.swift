import MeridianPKI
import NIOCore
import NIOHTTP2

/// Sits after the `NIOHTTP2Handler` of an outbound connection: tells the ``HTTP2Connection`` when the peer is
/// verified (mTLS), when the connection is gone, and when a PING is answered.
final class HTTP2ConnectionObserver: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    private let connection: HTTP2Connection

    init(connection: HTTP2Connection) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .ping(let data, ack: true):
            connection.pingAcknowledged(data)
        case .goAway:
            connection.goAwayReceived(on: context.channel)
        default:
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is PeerVerifiedEvent {
            connection.established(context.channel)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.lost(channel: context.channel, error: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection.lost(channel: context.channel, error: error)
        context.close(promise: nil)
    }
}
