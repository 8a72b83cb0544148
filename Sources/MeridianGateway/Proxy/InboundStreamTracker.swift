import NIOCore
import NIOHTTP2

/// Sits after the ``TunnelHTTP2Handler`` of an accepted HTTP/2 connection (tunnel or local h2c) and remembers the highest
/// stream the client opened, for the second GOAWAY of a graceful shutdown.
///
/// Draining is two-phase, as RFC 9113 §6.8 recommends: first a GOAWAY with the largest stream ID (no new streams,
/// please), then, once the client has had time to see it, a GOAWAY with the last stream actually opened. A stream the
/// client opened after that (it had not seen the first one yet) is then refused, so the client knows it was never
/// processed and may retry it anywhere, a POST too, instead of losing it when the connection closes.
final class InboundStreamTracker: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame

    private(set) var lastStreamID: HTTP2StreamID = .rootStream

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let created = UserEvent.as(event, NIOHTTP2StreamCreatedEvent.self), created.streamID > lastStreamID {
            lastStreamID = created.streamID
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// The first GOAWAY: no new streams, those already opened (whatever their IDs) are served.
    static func announceShutdown(on channel: any Channel) {
        channel.writeAndFlush(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: .maxID, errorCode: .noError, opaqueData: nil)),
                              promise: nil)
    }

    /// The second GOAWAY: streams above the last one opened so far were not processed.
    static func finishShutdown(on channel: any Channel) {
        guard let tracker = try? channel.pipeline.syncOperations.handler(type: InboundStreamTracker.self) else { return }
        channel.writeAndFlush(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: tracker.lastStreamID, errorCode: .noError, opaqueData: nil)),
                              promise: nil)
    }
}
