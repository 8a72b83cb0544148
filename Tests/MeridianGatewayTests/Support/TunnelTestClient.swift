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
    static func send(port: Int, chainPEM: String, keyPEM: String, trustBundlePEM: String, expectedCluster: String,
                     path: String, headers: [(String, String)]) async throws -> TestResponse {
        let bundle = try TrustBundle(pem: trustBundlePEM)
        let verifier = PeerIdentityVerifier(trustBundle: bundle, trustDomain: TestPKI.trustDomain)
        let context = try NIOSSLContext(configuration: MeshTLS.clientConfiguration(certificateChainPEM: chainPEM, privateKeyPEM: keyPEM, trustBundle: bundle))
        let (connection, multiplexer) = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handlers = try MeshTLS.makeClientHandlers(context: context, verifier: verifier, expectedCluster: expectedCluster)
                    try channel.pipeline.syncOperations.addHandlers(handlers.all)
                    let multiplexer = try channel.pipeline.syncOperations.configureAsyncHTTP2Pipeline(mode: .client) { stream in
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
            try await outbound.write(.head(TestClient.head(.GET, path, host: "chat.meridian", headers: headers)))
            try await outbound.write(.end(nil))
            return try await TestClient.collect(inbound)
        }
    }
}
