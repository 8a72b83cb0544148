import Foundation
import MeridianPKI
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// Calls a gateway's tunnel listener directly, as some cluster's gateway (mTLS with that cluster's certificate):
/// what a forged or disallowed peer would do.
enum TunnelTestClient {
    /// `method` with `body` (as one DATA frame, then the end): the client's own content-length check is off, so a test
    /// can send a body that does not match the length it declares, as a faulty or hostile gateway would.
    static func send(port: Int, chainPEM: String, keyPEM: String, trustBundlePEM: String, expectedCluster: String,
                     method: HTTPMethod = .GET, path: String, headers: [(String, String)], body: ByteBuffer? = nil) async throws -> TestResponse {
        let bundle = try TrustBundle(pem: trustBundlePEM)
        let verifier = PeerIdentityVerifier(trustBundle: bundle, trustDomain: TestPKI.trustDomain)
        let context = try NIOSSLContext(configuration: MeshTLS.clientConfiguration(certificateChainPEM: chainPEM, privateKeyPEM: keyPEM, trustBundle: bundle))
        let (connection, multiplexer) = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handlers = try MeshTLS.makeClientHandlers(context: context, verifier: verifier, expectedCluster: expectedCluster)
                    try channel.pipeline.syncOperations.addHandlers(handlers.all)
                    var configuration = NIOHTTP2Handler.Configuration()
                    configuration.connection.contentLengthValidation = .disabled
                    let multiplexer = try channel.pipeline.syncOperations.configureAsyncHTTP2Pipeline(mode: .client, configuration: configuration) { stream in
                        stream.eventLoop.makeSucceededVoidFuture()
                    }
                    return (channel, multiplexer)
                }
            }
        let stream = try await multiplexer.openStream { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .https))
                return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: stream)
            }
        }
        defer { connection.close(promise: nil) }
        return try await stream.executeThenClose { inbound, outbound in
            try await outbound.write(.head(TestClient.head(method, path, host: "chat.meridian", headers: headers)))
            if let body { try await outbound.write(.body(.byteBuffer(body))) }
            try await outbound.write(.end(nil))
            return try await TestClient.collect(inbound)
        }
    }
}
