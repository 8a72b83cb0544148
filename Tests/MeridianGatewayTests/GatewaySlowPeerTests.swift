import Foundation
import MeridianGateway
import NIOCore
import NIOHTTP1
import Testing

/// Peers and clients that are slow on purpose: a TLS handshake that never finishes, a body sent a few bytes at a time.
@Suite("Gateway slow peers and clients", .serialized, .timeLimit(.minutes(2)))
struct GatewaySlowPeerTests {
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    @Test("a tunnel peer that stalls mid-handshake is closed at the handshake deadline (set to 4 s); traffic and new handshakes go on meanwhile")
    func stalledHandshakeIsClosed() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await GatewayEndToEndTests.eastWest(upstream, configure: { $0.handshakeTimeout = .seconds(4) }) { mesh in
            let tunnel = mesh.addresses["west"]!.tunnelPort
            let opened = ContinuousClock.now
            // One connection sends nothing at all, one the first 31 bytes of a ClientHello; then both stall.
            let silent = try await StallingPeer.Client.connect(port: tunnel, sending: [])
            let partial = try await StallingPeer.Client.connect(port: tunnel, sending: StallingPeer.partialClientHello)
            let closedAfter = Locked<[String: Duration]>([:])
            for (name, client) in [("silent", silent), ("partial", partial)] {
                client.closed.whenComplete { _ in closedAfter.withLock { $0[name] = ContinuousClock.now - opened } }
            }
            defer { silent.close(); partial.close() }

            let pki = mesh.pki
            let bundle = try String(contentsOfFile: pki.path("trust-bundle.pem"), encoding: .utf8)
            let chain = try String(contentsOfFile: pki.path("east.pem"), encoding: .utf8)
            let key = try String(contentsOfFile: pki.path("east-key.pem"), encoding: .utf8)
            var served = 0
            var freshHandshakes = 0
            var stillOpenAtTwoSeconds = false
            while closedAfter.value.count < 2, ContinuousClock.now - opened < .seconds(10) {
                // Through the pair (the warm connection)...
                let response = try await TestClient.send(port: mesh.port("east"), .GET, "/v1/models")
                #expect(response.status == 200)
                if response.status == 200 { served += 1 }
                // ... and a new mTLS connection to the same tunnel listener the stalled peers sit on.
                let probe = try await TunnelTestClient.send(port: tunnel, chainPEM: chain, keyPEM: key, trustBundlePEM: bundle,
                                                            expectedCluster: "west", path: "/meridian/probe", headers: [])
                #expect(probe.status == 200)
                if probe.status == 200 { freshHandshakes += 1 }
                if ContinuousClock.now - opened > .seconds(2), ContinuousClock.now - opened < .seconds(3) {
                    stillOpenAtTwoSeconds = stillOpenAtTwoSeconds || closedAfter.value.isEmpty
                }
                try await Task.sleep(for: .milliseconds(250))
            }
            let closed = closedAfter.value
            print("stalled handshakes closed after \(closed.mapValues { String(format: "%.2f s", Self.seconds($0)) }); "
                + "meanwhile \(served) requests through the pair and \(freshHandshakes) fresh tunnel handshakes")
            #expect(stillOpenAtTwoSeconds, "the stalled connections were closed before the deadline: \(closed)")
            for name in ["silent", "partial"] {
                let after = try #require(closed[name], "the \(name) connection is still open after 10 s")
                #expect(after >= .seconds(3.5) && after <= .seconds(6.5), "\(name) closed after \(after), the deadline is 4 s")
            }
            #expect(served >= 3, "requests kept succeeding while the peers stalled: \(served)")
            #expect(freshHandshakes == served)
        }
    }

    /// Sends `total` bytes of body `step` bytes every `interval` (with an extra `pause` halfway), and collects the
    /// response concurrently. Returns the response, when it arrived, and how much body had been sent by then.
    static func slowUpload(port: Int, total: Int, step: Int, interval: Duration, pause: Duration)
        async throws -> (response: TestResponse, after: Duration, sentWhenAnswered: Int)
    {
        let connection = try await TestClient.connect(port: port)
        let sent = Locked<Int>(0)
        let started = ContinuousClock.now
        return try await connection.executeThenClose { inbound, outbound in
            try await outbound.write(.head(TestClient.head(.POST, "/upload", host: "chat.meridian", headers: [("content-length", String(total))])))
            return try await withThrowingTaskGroup(of: (TestResponse, Duration, Int)?.self) { group in
                group.addTask {
                    do {
                        while sent.value < total {
                            let size = min(step, total - sent.value)
                            try await outbound.write(.body(.byteBuffer(ByteBuffer(repeating: 0x62, count: size))))
                            sent.withLock { $0 += size }
                            try await Task.sleep(for: sent.value == (total / 2 / step) * step ? pause : interval)
                        }
                        try await outbound.write(.end(nil))
                    } catch {
                        // The gateway answered and closed the connection: writing fails from then on.
                    }
                    return nil
                }
                group.addTask {
                    let response = try await TestClient.collect(inbound)
                    return (response, ContinuousClock.now - started, sent.value)
                }
                var result: (TestResponse, Duration, Int)?
                while let next = try await group.next() {
                    if let next {
                        result = next
                        group.cancelAll()
                    }
                }
                let (response, after, sentWhenAnswered) = try #require(result)
                return (response, after, sentWhenAnswered)
            }
        }
    }

    @Test("a body sent 4 bytes per 100 ms (with a pause longer than the idle timeout) completes; others are served meanwhile")
    func slowBodyCompletes() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        // The idle timeout applies to connections with no request in flight, so 300 ms does not cut the slow body.
        try await GatewayEndToEndTests.eastWest(upstream, configure: { $0.idleTimeout = .milliseconds(300) }) { mesh in
            let port = mesh.port("east")
            try await withThrowingTaskGroup(of: Void.self) { group in
                let slowDone = Locked<Bool>(false)
                group.addTask {
                    defer { slowDone.withLock { $0 = true } }
                    let (response, after, _) = try await Self.slowUpload(port: port, total: 80, step: 4, interval: .milliseconds(100),
                                                                         pause: .milliseconds(800))
                    #expect(response.status == 200)
                    #expect(response.body == "received 80")
                    #expect(after >= .seconds(2), "20 steps of 100 ms and a pause of 800 ms: \(after)")
                }
                var served = 0
                var slowest: Duration = .zero
                while !slowDone.value {
                    let started = ContinuousClock.now
                    let response = try await TestClient.send(port: port, .GET, "/v1/models")
                    slowest = max(slowest, ContinuousClock.now - started)
                    #expect(response.status == 200)
                    if response.status == 200 { served += 1 }
                    try await Task.sleep(for: .milliseconds(100))
                }
                try await group.waitForAll()
                #expect(served >= 10, "others were served while the slow body came in: \(served)")
                #expect(slowest < .seconds(1), "a request waited behind the slow body: \(slowest)")
            }
        }
    }

    @Test("a body slower than the route's timeout gets 504 upstream_timeout while it is still being sent")
    func slowBodyTimesOut() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await GatewayEndToEndTests.eastWest(upstream, timeout: 1) { mesh in
            let port = mesh.port("east")
            try await withThrowingTaskGroup(of: Void.self) { group in
                let slowDone = Locked<Bool>(false)
                group.addTask {
                    defer { slowDone.withLock { $0 = true } }
                    let (response, after, sent) = try await Self.slowUpload(port: port, total: 120, step: 4, interval: .milliseconds(100),
                                                                            pause: .milliseconds(100))
                    #expect(response.status == 504)
                    let error = response.json?["error"] as? [String: Any]
                    #expect(error?["code"] as? String == "upstream_timeout", "\(response.body)")
                    #expect(response.headers.first(name: "meridian-decision")?.hasPrefix("timeout") == true)
                    #expect(after >= .milliseconds(900) && after < .milliseconds(2500), "the timeout is 1 s: answered after \(after)")
                    #expect(sent < 120, "the answer came while the body was still being sent (\(sent) of 120 bytes)")
                }
                var served = 0
                while !slowDone.value {
                    let response = try await TestClient.send(port: port, .GET, "/v1/models")
                    #expect(response.status == 200)
                    if response.status == 200 { served += 1 }
                    try await Task.sleep(for: .milliseconds(100))
                }
                try await group.waitForAll()
                #expect(served >= 4, "others were served while the slow body came in: \(served)")
            }
        }
    }
}
