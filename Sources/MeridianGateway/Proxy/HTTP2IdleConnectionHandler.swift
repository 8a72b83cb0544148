import NIOCore
import NIOHTTP2

/// Tells its worker's idle sweep when an HTTP/2 connection from a local h2c client has no open stream, and since
/// when: it sits after the ``TunnelHTTP2Handler``, counting streams from its events, and the sweep
/// (``ForwardingWorker``, one timer per event loop) closes the connection once it has had no stream for the idle
/// timeout, as Envoy's `idle_timeout` ("no active requests") does.
///
/// In place of NIO's `IdleStateHandler`, which made a promise for every write of the connection to note when it
/// completed (three per request, with their callbacks: about 3 % of a gateway's instructions for an h2c client's
/// request) and read the clock on every read.
final class HTTP2IdleConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame

    private var openStreams = 0
    private var context: ChannelHandlerContext?
    /// When the last stream closed (or the connection opened).
    private(set) var lastActive = NIODeadline.now()

    /// No stream is open: the idle timeout runs from ``lastActive``.
    var isIdle: Bool { openStreams == 0 }

    /// Closes the connection if it is still idle (the worker's sweep, once the idle timeout has passed), after a
    /// GOAWAY naming the last stream served: a request the client sent meanwhile is then known not to have been
    /// processed, and safe to retry (RFC 9113 section 6.8), where a bare close would leave it in doubt.
    func closeIdle() {
        guard isIdle, let context else { return }
        InboundStreamTracker.finishShutdown(on: context.channel)
        context.close(promise: nil)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if UserEvent.is(event, NIOHTTP2StreamCreatedEvent.self) {
            openStreams += 1
        } else if UserEvent.is(event, StreamClosedEvent.self) {
            openStreams = max(0, openStreams - 1)
            if openStreams == 0 { lastActive = .now() }
        }
        context.fireUserInboundEventTriggered(event)
    }
}
