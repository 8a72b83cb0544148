#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore
import NIOSSL
import X509

/// TLS for the gateway tunnel: configurations (TLS 1.3 only, ALPN `h2`, mutual authentication) and channel handlers
/// whose certificate check is ``PeerIdentityVerifier``.
///
/// The configurations set `certificateVerification = .noHostnameVerification`, which makes BoringSSL ask for (server
/// side: require) the peer's certificate; the handlers replace BoringSSL's own chain check with a custom verification
/// callback that runs the verifier, so a peer is accepted exactly when ``PeerIdentityVerifier`` accepts it. A refused
/// peer fails the handshake, and `onRefusal` receives the reason for the caller's log line.
///
/// ```swift
/// let context = try NIOSSLContext(configuration: MeshTLS.serverConfiguration(
///     certificateChainPEM: issued.chainPEM, privateKeyPEM: key, trustBundle: bundle))
/// // in childChannelInitializer, on the event loop:
/// let handlers = MeshTLS.makeServerHandlers(context: context, verifier: verifier) { failure in
///     logger.warning("mesh peer refused", metadata: ["meridian.peer.reason": "\(failure.reason.rawValue)",
///                                                   "meridian.peer.message": "\(failure.message)"])
/// }
/// try channel.pipeline.syncOperations.addHandlers(handlers.all)
/// ```
public enum MeshTLS {
    /// ALPN protocols offered and accepted on the tunnel: HTTP/2 only.
    public static let applicationProtocols = ["h2"]

    /// The tunnel listener's configuration: TLS 1.3 minimum, ALPN `h2`, client certificate required.
    ///
    /// - Parameters:
    ///   - certificateChainPEM: the gateway's chain (``IssuedCertificate/chainPEM``), leaf first.
    ///   - privateKeyPEM: the gateway's private key.
    ///   - trustBundle: the trusted roots (set as BoringSSL's trust roots too, so no system store is loaded).
    public static func serverConfiguration(certificateChainPEM: String, privateKeyPEM: String, trustBundle: TrustBundle) throws(MeshPKIError) -> TLSConfiguration {
        let (chain, key) = try credentials(certificateChainPEM: certificateChainPEM, privateKeyPEM: privateKeyPEM)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: key)
        try apply(to: &configuration, trustBundle: trustBundle)
        return configuration
    }

    /// The configuration for dialling a peer's tunnel listener: TLS 1.3 minimum, ALPN `h2`, the gateway's own
    /// certificate as client certificate.
    public static func clientConfiguration(certificateChainPEM: String, privateKeyPEM: String, trustBundle: TrustBundle) throws(MeshPKIError) -> TLSConfiguration {
        let (chain, key) = try credentials(certificateChainPEM: certificateChainPEM, privateKeyPEM: privateKeyPEM)
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateChain = chain
        configuration.privateKey = key
        try apply(to: &configuration, trustBundle: trustBundle)
        return configuration
    }

    /// Handlers for an accepted tunnel connection: the `NIOSSLServerHandler`, whose custom verification callback runs
    /// `verifier` for a peer in the ``PeerRole/client`` role (EKU clientAuth needed), then a ``PeerIdentityHandler``.
    ///
    /// - Parameters:
    ///   - context: made from ``serverConfiguration(certificateChainPEM:privateKeyPEM:trustBundle:)``.
    ///   - verifier: the gateway's shared verifier.
    ///   - onRefusal: called (off the event loop) with the reason when a peer is refused, for the caller's log line.
    public static func makeServerHandlers(context: NIOSSLContext, verifier: PeerIdentityVerifier, onRefusal: @escaping @Sendable (PeerVerificationFailure) -> Void = { _ in }) -> MeshTLSHandlers {
        let slot = PeerIdentityHandler.Slot()
        let callback = verificationCallback(verifier: verifier, role: .client, expectedCluster: nil, slot: slot, onRefusal: onRefusal)
        let tls = NIOSSLServerHandler(context: context, customVerificationCallbackWithMetadata: callback)
        return MeshTLSHandlers(tlsHandler: tls, identityHandler: PeerIdentityHandler(slot: slot))
    }

    /// Handlers for dialling a peer: the `NIOSSLClientHandler`, whose custom verification callback runs `verifier`
    /// for a peer in the ``PeerRole/server`` role (EKU serverAuth needed), then a ``PeerIdentityHandler``.
    ///
    /// - Parameters:
    ///   - context: made from ``clientConfiguration(certificateChainPEM:privateKeyPEM:trustBundle:)``.
    ///   - verifier: the gateway's shared verifier.
    ///   - expectedCluster: the cluster whose gateway we mean to reach; another gateway is refused. `nil` accepts
    ///     any gateway of the trust domain.
    ///   - serverHostname: sent as SNI when it is a host name; not verified (the SPIFFE ID is).
    ///   - onRefusal: called (off the event loop) with the reason when the peer is refused.
    public static func makeClientHandlers(context: NIOSSLContext, verifier: PeerIdentityVerifier, expectedCluster: String?, serverHostname: String? = nil, onRefusal: @escaping @Sendable (PeerVerificationFailure) -> Void = { _ in }) throws -> MeshTLSHandlers {
        let slot = PeerIdentityHandler.Slot()
        let callback = verificationCallback(verifier: verifier, role: .server, expectedCluster: expectedCluster, slot: slot, onRefusal: onRefusal)
        // SNI must be a host name, never an IP address literal.
        let sni = serverHostname.flatMap { IPAddressBytes.parse($0) == nil ? $0 : nil }
        let tls = try NIOSSLClientHandler(context: context, serverHostname: sni, customVerificationCallbackWithMetadata: callback)
        return MeshTLSHandlers(tlsHandler: tls, identityHandler: PeerIdentityHandler(slot: slot))
    }

    static func verificationCallback(verifier: PeerIdentityVerifier, role: PeerRole, expectedCluster: String?, slot: PeerIdentityHandler.Slot, onRefusal: @escaping @Sendable (PeerVerificationFailure) -> Void) -> NIOSSLCustomVerificationCallbackWithMetadata {
        makeVerificationCallback(verifier: verifier, peerRole: role, expectedCluster: expectedCluster, onVerified: { slot.store($0) }, onRefusal: onRefusal)
    }

    /// A NIOSSL custom verification callback that runs `verifier`, for TLS setups other than the tunnel's (for
    /// example the hub's HTTPS listener, which hands it to its own `NIOSSLServerHandler`).
    ///
    /// On success the promise gets the validated chain (leaf to root), so `NIOSSLHandler.peerValidatedCertificateChain`
    /// is set, and `onVerified` receives the identity; on refusal the handshake fails and `onRefusal` gets the reason.
    /// Both hooks run off the event loop.
    ///
    /// - Parameters:
    ///   - verifier: the shared verifier.
    ///   - peerRole: the role the peer plays: ``PeerRole/client`` on a listener, ``PeerRole/server`` when dialling.
    ///   - expectedCluster: when set, only this cluster's gateway is accepted.
    ///   - onVerified: receives the identity of an accepted peer.
    ///   - onRefusal: receives the reason a peer was refused.
    public static func makeVerificationCallback(verifier: PeerIdentityVerifier, peerRole: PeerRole, expectedCluster: String? = nil, onVerified: @escaping @Sendable (PeerIdentity) -> Void = { _ in }, onRefusal: @escaping @Sendable (PeerVerificationFailure) -> Void = { _ in }) -> NIOSSLCustomVerificationCallbackWithMetadata {
        { certificates, promise in
            promise.completeWithTask {
                switch await verifier.verifyPresented(certificates, as: peerRole, expectedCluster: expectedCluster, now: Date()) {
                case .success(let verified):
                    let chain: [NIOSSLCertificate]
                    do {
                        chain = try verified.chain.map { try NIOSSLCertificate(bytes: $0.derBytes, format: .der) }
                    } catch {
                        onRefusal(.init(reason: .malformedCertificate, message: "cannot re-encode the validated chain of \(verified.identity.spiffeID): \(error)", spiffeID: verified.identity.spiffeID, serial: verified.identity.serial))
                        return .failed
                    }
                    onVerified(verified.identity)
                    return .certificateVerified(VerificationMetadata(ValidatedCertificateChain(chain)))
                case .failure(let failure):
                    onRefusal(failure)
                    return .failed
                }
            }
        }
    }

    static func credentials(certificateChainPEM: String, privateKeyPEM: String) throws(MeshPKIError) -> ([NIOSSLCertificateSource], NIOSSLPrivateKeySource) {
        do {
            let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificateChainPEM.utf8))
            guard !chain.isEmpty else { throw MeshPKIError(.invalidPEM, "the certificate chain PEM holds no certificate") }
            let key = try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem)
            return (chain.map { .certificate($0) }, .privateKey(key))
        } catch let error as MeshPKIError {
            throw error
        } catch {
            throw MeshPKIError(.invalidPEM, "cannot load the TLS certificate chain or private key: \(error)")
        }
    }

    static func apply(to configuration: inout TLSConfiguration, trustBundle: TrustBundle) throws(MeshPKIError) {
        configuration.minimumTLSVersion = .tlsv13
        configuration.applicationProtocols = applicationProtocols
        configuration.certificateVerification = .noHostnameVerification
        do {
            configuration.trustRoots = .certificates(try trustBundle.roots.map { try NIOSSLCertificate(bytes: $0.derBytes, format: .der) })
        } catch {
            throw MeshPKIError(.invalidPEM, "cannot load the trust bundle into TLS: \(error)")
        }
    }
}
