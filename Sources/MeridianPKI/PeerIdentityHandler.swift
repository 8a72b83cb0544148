import NIOCore
import NIOTLS
import Synchronization

/// Sits right after the mesh's `NIOSSLHandler` and makes the peer's verified identity available to the connection:
/// ``peerIdentity`` once the handshake completed, and a ``PeerVerifiedEvent`` fired after `TLSUserEvent.handshakeCompleted`.
///
/// Made by ``MeshTLS/makeServerHandlers(context:verifier:onRefusal:)`` and
/// ``MeshTLS/makeClientHandlers(context:verifier:expectedCluster:serverHostname:onRefusal:)``. Use it on the channel's
/// event loop only. Everything else passes through unchanged until then; once it has fired the event it leaves the
/// pipeline (a tunnel is long-lived, and each of its reads would otherwise pass through one more handler), so keep
/// the handler (``MeshTLSHandlers/identityHandler``) to read ``peerIdentity`` later, rather than looking it up.
public final class PeerIdentityHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny
    public typealias InboundOut = NIOAny

    /// Filled by the verification callback, which runs off the event loop.
    final class Slot: Sendable {
        private let value = Mutex<PeerIdentity?>(nil)
        func store(_ identity: PeerIdentity) { value.withLock { $0 = identity } }
        func load() -> PeerIdentity? { value.withLock { $0 } }
    }

    let slot: Slot

    /// The peer's identity; `nil` until the TLS handshake completed.
    public private(set) var peerIdentity: PeerIdentity?

    init(slot: Slot) {
        self.slot = slot
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .handshakeCompleted = event as? TLSUserEvent, let identity = slot.load() else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        peerIdentity = identity
        context.fireUserInboundEventTriggered(event)
        context.fireUserInboundEventTriggered(PeerVerifiedEvent(identity: identity))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

@available(*, unavailable)
extension PeerIdentityHandler: Sendable {}
