import Foundation
import MeridianPKI
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// A value shared between the test and handlers on event loops.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
    var value: Value { mutex.withLock { $0 } }
}

/// What one side saw of a completed handshake.
struct HandshakeView: Sendable {
    var identity: PeerIdentity
    var negotiatedProtocol: String?
    var tlsVersion: TLSVersion?
    var validatedChainLength: Int?
}

/// Records the handshake outcome of one connection.
final class HandshakeObserver: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let onVerified: @Sendable (HandshakeView) -> Void
    private let onError: @Sendable (String) -> Void
    private var negotiatedProtocol: String?

    init(onVerified: @escaping @Sendable (HandshakeView) -> Void, onError: @escaping @Sendable (String) -> Void) {
        self.onVerified = onVerified
        self.onError = onError
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let negotiated) = event as? TLSUserEvent {
            negotiatedProtocol = negotiated
        }
        if let verified = event as? PeerVerifiedEvent {
            let handler = try? context.pipeline.syncOperations.handler(type: PeerIdentityHandler.self)
            precondition(handler?.peerIdentity == verified.identity)
            onVerified(HandshakeView(
                identity: verified.identity,
                negotiatedProtocol: negotiatedProtocol,
                tlsVersion: try? context.pipeline.syncOperations.nioSSL_tlsVersion(),
                validatedChainLength: (try? context.pipeline.syncOperations.nioSSL_peerValidatedCertificateChain())?.count))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        onError("\(error)")
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        onError("connection closed")
        context.fireChannelInactive()
    }
}

/// A tunnel listener on 127.0.0.1, port 0, built with `MeshTLS.makeServerHandlers`.
final class TunnelServer: Sendable {
    let channel: any Channel
    /// Handshakes the server completed, with the client identity it saw.
    let accepted: Locked<[HandshakeView]>
    /// Refusals reported through `onRefusal`.
    let refusals: Locked<[PeerVerificationFailure]>

    private init(channel: any Channel, accepted: Locked<[HandshakeView]>, refusals: Locked<[PeerVerificationFailure]>) {
        self.channel = channel
        self.accepted = accepted
        self.refusals = refusals
    }

    var port: Int { channel.localAddress?.port ?? 0 }

    static func start(credentials: GatewayCredentials, verifier: PeerIdentityVerifier) async throws -> TunnelServer {
        let context = try NIOSSLContext(configuration: MeshTLS.serverConfiguration(
            certificateChainPEM: credentials.chainPEM, privateKeyPEM: credentials.privateKeyPEM, trustBundle: verifier.trustBundle))
        let accepted = Locked<[HandshakeView]>([])
        let refusals = Locked<[PeerVerificationFailure]>([])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handlers = MeshTLS.makeServerHandlers(context: context, verifier: verifier) { failure in
                        refusals.withLock { $0.append(failure) }
                    }
                    try channel.pipeline.syncOperations.addHandlers(handlers.all)
                    try channel.pipeline.syncOperations.addHandler(HandshakeObserver(
                        onVerified: { view in accepted.withLock { $0.append(view) } },
                        onError: { _ in }))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return TunnelServer(channel: channel, accepted: accepted, refusals: refusals)
    }

    func stop() async {
        try? await channel.close()
    }
}

/// Everything both sides saw of one connection attempt.
struct ConnectionOutcome: Sendable {
    /// The client's view when its handshake completed and it accepted the server.
    var client: HandshakeView?
    /// Why the client's connection failed or closed, if it did.
    var clientError: String?
    /// What the client's verifier refused, if anything.
    var clientRefusal: PeerVerificationFailure?
    /// The server's view, when it accepted the client.
    var server: HandshakeView?
    /// What the server's verifier refused, if anything.
    var serverRefusal: PeerVerificationFailure?

    /// Both sides accepted each other.
    var succeeded: Bool { client != nil && server != nil && clientError == nil }
}

/// Polls `probe` until it returns a value or `timeout` passes.
func eventually<T>(timeout: Duration = .seconds(5), _ probe: () -> T?) async throws -> T? {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let value = probe() { return value }
        try await Task.sleep(for: .milliseconds(10))
    }
    return probe()
}

/// Dials `server` as a gateway with `credentials`, verifying the server with `verifier`, and waits until both sides
/// decided: the server accepted or refused the client, and the client accepted the server or failed.
func connect(to server: TunnelServer, with credentials: GatewayCredentials, verifier: PeerIdentityVerifier,
             expectedCluster: String?, configure: (inout TLSConfiguration) -> Void = { _ in }) async throws -> ConnectionOutcome {
    var configuration = try MeshTLS.clientConfiguration(
        certificateChainPEM: credentials.chainPEM, privateKeyPEM: credentials.privateKeyPEM, trustBundle: verifier.trustBundle)
    configure(&configuration)
    let context = try NIOSSLContext(configuration: configuration)
    let acceptedBefore = server.accepted.value.count
    let refusedBefore = server.refusals.value.count

    let clientView = Locked<HandshakeView?>(nil)
    let clientError = Locked<String?>(nil)
    let clientRefusal = Locked<PeerVerificationFailure?>(nil)
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let handlers = try MeshTLS.makeClientHandlers(
                    context: context, verifier: verifier, expectedCluster: expectedCluster, serverHostname: "localhost"
                ) { failure in
                    clientRefusal.withLock { $0 = failure }
                }
                try channel.pipeline.syncOperations.addHandlers(handlers.all)
                try channel.pipeline.syncOperations.addHandler(HandshakeObserver(
                    onVerified: { view in clientView.withLock { $0 = view } },
                    onError: { error in clientError.withLock { if $0 == nil { $0 = error } } }))
            }
        }
        .connect(host: "127.0.0.1", port: server.port)
        .get()

    // The server decides last in TLS 1.3 (it checks the client's certificate after the client finished), so wait for
    // the server's verdict, or for the client to fail on its own.
    _ = try await eventually {
        let serverDecided = server.accepted.value.count > acceptedBefore || server.refusals.value.count > refusedBefore
        // A server refusal is recorded before the server sends its alert, so a client error means it is in.
        return serverDecided || clientError.value != nil ? true : nil
    }
    // A refused client then sees the server's alert and the connection close.
    if server.refusals.value.count > refusedBefore {
        _ = try await eventually { clientError.value }
    }
    try? await Task.sleep(for: .milliseconds(20))
    let outcome = ConnectionOutcome(
        client: clientView.value,
        clientError: clientError.value,
        clientRefusal: clientRefusal.value,
        server: server.accepted.value.count > acceptedBefore ? server.accepted.value.last : nil,
        serverRefusal: server.refusals.value.count > refusedBefore ? server.refusals.value.last : nil)
    try? await channel.close()
    return outcome
}
