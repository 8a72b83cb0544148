import Foundation
import MeridianGateway
import NIOCore
import NIOHTTP1
import Testing

/// A 1 GiB upload through east -> west to a model server that only counts bytes. The gateways run in this process,
/// so its resident memory is theirs (plus the client's and the counter's, which hold one chunk at a time).
///
/// `MERIDIAN_TEST_UPLOAD_BYTES` overrides the size (default 1 GiB).
@Suite("Gateway large upload", .serialized, .timeLimit(.minutes(5)))
struct GatewayLargeUploadTests {
    static let defaultSize = 1 << 30
    static var size: Int {
        ProcessInfo.processInfo.environment["MERIDIAN_TEST_UPLOAD_BYTES"].flatMap { Int($0) } ?? defaultSize
    }
    /// Growth of the resident set allowed while the body streams.
    static let allowedGrowth = 64 << 20

    @Test("1 GiB streams through the pair with flat memory: every byte arrives, RSS grows by less than 64 MiB")
    func oneGiBFlatMemory() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await GatewayEndToEndTests.eastWest(upstream, timeout: 600) { mesh in
            let total = Self.size
            let chunk = 256 * 1024
            // Warm the path (connections, buffers, allocator arenas) before taking the baseline.
            let warm = try await TestClient.send(port: mesh.port("east"), .PUT, "/upload", body: String(repeating: "w", count: 1 << 20))
            #expect(warm.body == "received \(1 << 20)")
            let baseline = try #require(ResidentMemory.current, "no /proc/self/status")
            var highest = baseline
            let started = ContinuousClock.now
            let connection = try await TestClient.connect(port: mesh.port("east"))
            let response = try await connection.executeThenClose { inbound, outbound in
                try await outbound.write(.head(TestClient.head(.PUT, "/upload", host: "chat.meridian", headers: [("content-length", String(total))])))
                let payload = ByteBuffer(repeating: 0x61, count: chunk)
                var sent = 0
                while sent < total {
                    let size = min(chunk, total - sent)
                    try await outbound.write(.body(.byteBuffer(size == chunk ? payload : ByteBuffer(repeating: 0x61, count: size))))
                    sent += size
                    if sent % (8 << 20) < chunk, let now = ResidentMemory.current { highest = max(highest, now) }
                }
                try await outbound.write(.end(nil))
                return try await TestClient.collect(inbound)
            }
            let elapsed = ContinuousClock.now - started
            if let now = ResidentMemory.current { highest = max(highest, now) }
            let growth = highest - baseline
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print("large upload: \(total) bytes in \(elapsed) (\(String(format: "%.0f", Double(total) / seconds / 1e6)) MB/s); "
                + "RSS \(baseline >> 20) MiB at start, highest \(highest >> 20) MiB, growth \(growth >> 20) MiB")
            #expect(response.status == 200)
            #expect(response.body == "received \(total)")
            #expect(upstream.uploadedBytes.value == total)
            #expect(growth < Self.allowedGrowth, "resident memory grew by \(growth >> 20) MiB while \(total >> 20) MiB streamed")
        }
    }
}
