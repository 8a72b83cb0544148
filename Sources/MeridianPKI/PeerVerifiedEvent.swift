/// Sent down the pipeline (as an inbound user event) right after the TLS handshake completed, carrying the peer's
/// verified identity.
public struct PeerVerifiedEvent: Sendable, Hashable {
    /// Who the peer is.
    public var identity: PeerIdentity

    /// Creates the event.
    public init(identity: PeerIdentity) {
        self.identity = identity
    }
}
