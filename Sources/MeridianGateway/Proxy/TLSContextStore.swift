import MeridianPKI
import NIOSSL
import Synchronization

/// The gateway's current TLS contexts (tunnel server and peer client). A renewal swaps them: connections made
/// afterwards use the new certificate, connections already open keep theirs until they close.
public final class TLSContextStore: Sendable {
    private struct Contexts: Sendable {
        var server: NIOSSLContext
        var client: NIOSSLContext
    }

    private let contexts: Mutex<Contexts>

    /// Builds both contexts from a certificate chain, its key and the trust bundle.
    public init(chainPEM: String, privateKeyPEM: String, trustBundle: TrustBundle) throws {
        contexts = Mutex(try Self.make(chainPEM: chainPEM, privateKeyPEM: privateKeyPEM, trustBundle: trustBundle))
    }

    public var server: NIOSSLContext { contexts.withLock { $0.server } }
    public var client: NIOSSLContext { contexts.withLock { $0.client } }

    /// Replaces both contexts, for new connections.
    public func replace(chainPEM: String, privateKeyPEM: String, trustBundle: TrustBundle) throws {
        let fresh = try Self.make(chainPEM: chainPEM, privateKeyPEM: privateKeyPEM, trustBundle: trustBundle)
        contexts.withLock { $0 = fresh }
    }

    private static func make(chainPEM: String, privateKeyPEM: String, trustBundle: TrustBundle) throws -> Contexts {
        Contexts(
            server: try NIOSSLContext(configuration: MeshTLS.serverConfiguration(certificateChainPEM: chainPEM, privateKeyPEM: privateKeyPEM, trustBundle: trustBundle)),
            client: try NIOSSLContext(configuration: MeshTLS.clientConfiguration(certificateChainPEM: chainPEM, privateKeyPEM: privateKeyPEM, trustBundle: trustBundle)))
    }
}
