import NIOCore
import NIOSSL

/// The handlers ``MeshTLS`` makes for one connection, in pipeline order.
public struct MeshTLSHandlers {
    /// The TLS handler (`NIOSSLServerHandler` or `NIOSSLClientHandler`) with the mesh's verification callback.
    public let tlsHandler: NIOSSLHandler
    /// Exposes the verified peer identity once the handshake completed.
    public let identityHandler: PeerIdentityHandler

    /// Both handlers in order, for `channel.pipeline.syncOperations.addHandlers(_:)`.
    public var all: [any ChannelHandler] {
        [tlsHandler, identityHandler]
    }
}

@available(*, unavailable)
extension MeshTLSHandlers: Sendable {}
