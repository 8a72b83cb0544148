import MeridianPKI
import NIOCore
import NIOHTTP2

/// Sits after the ``TunnelHTTP2Handler`` of an outbound connection: tells the ``HTTP2Connection`` when the connection is
/// usable (active for h2c, the peer verified for mTLS), when the connection is gone, and when a PING is answered; remembers the peer's GOAWAY.
final class HTTP2ConnectionObserver: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    private let connection: HTTP2Connection
    /// Cleartext (h2c): the connection is usable once active (its ``TunnelHTTP2Handler`` has then sent its preface, which
    /// must come before any stream; the connect future completes before that).
    private let readyWhenActive: Bool
    /// The last stream the peer said it will serve, once it sent GOAWAY: streams above it were not processed.
    private(set) var goAwayLastStreamID: HTTP2StreamID?

    init(connection: HTTP2Connection, readyWhenActive: Bool) {
        self.connection = connection
        self.readyWhenActive = readyWhenActive
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        if readyWhenActive { connection.established(context.channel) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .ping(let data, ack: true):
            connection.pingAcknowledged(data)
        case .goAway(let lastStreamID, _, _):
            // Seen before swift-nio-http2 closes the streams above `lastStreamID`, so they can be told apart.
            goAwayLastStreamID = min(lastStreamID, goAwayLastStreamID ?? .maxID)
            connection.goAwayReceived(on: context.channel)
        default:
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if UserEvent.is(event, PeerVerifiedEvent.self) {
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

extension HTTP2ConnectionObserver {
    /// Whether `error`, which closed a stream of `connection`, means the peer never processed that stream: it was
    /// refused (`REFUSED_STREAM`), or it is above the last stream of the peer's GOAWAY (swift-nio-http2 closes those
    /// with `CANCEL`). Such a request may be retried anywhere, a POST too (RFC 9113 §8.7).
    static func streamWasNotProcessed(_ error: any Error, connection: (any Channel)?) -> Bool {
        guard let closed = error as? NIOHTTP2Errors.StreamClosed else { return false }
        if closed.errorCode == .refusedStream { return true }
        guard closed.errorCode == .cancel, let connection,
              let observer = try? connection.pipeline.syncOperations.handler(type: HTTP2ConnectionObserver.self),
              let last = observer.goAwayLastStreamID
        else { return false }
        return closed.streamID > last
    }
}
