import Foundation
import MeridianGateway
import NIOCore
import NIOHTTP1
import Testing

/// Circuit breaking (``ResilienceSettings/maxConcurrentStreamsPerPeer``, ``ResilienceSettings/maxPendingPerPeer``):
/// the requests over the limit get `503` with the error code `overflow` and `meridian-decision: overflow; ...` at
/// once; the admitted ones are served. Limits are per event loop, so east runs one.
@Suite("Gateway circuit breaking", .serialized, .timeLimit(.minutes(2)))
struct GatewayCircuitBreakingTests {
    static func expectOverflow(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == 503, "\(response.body)", sourceLocation: sourceLocation)
        let error = response.json?["error"] as? [String: Any]
        #expect(error?["code"] as? String == "overflow", "\(response.body)", sourceLocation: sourceLocation)
        #expect(response.headers.first(name: "meridian-decision")?.hasPrefix("overflow;") == true,
                "\(response.headers.first(name: "meridian-decision") ?? "no meridian-decision")", sourceLocation: sourceLocation)
    }

    /// Starts two `/sse` requests through east in `group`; they stay open until the model server is released.
    static func openTwoStreams(port: Int, upstream: TestUpstream, in group: inout ThrowingTaskGroup<TestResponse, any Error>) async throws {
        for _ in 0..<2 {
            group.addTask { try await TestClient.send(port: port, .GET, "/sse") }
        }
        let bothOpen = try await eventually { upstream.requests.value.count == 2 }
        try #require(bothOpen, "the two streams did not reach the model server")
    }

    @Test("with 2 streams per peer, 2 slow streams are served and 3 more requests get 503 overflow at once")
    func concurrentStreamLimit() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await GatewayEndToEndTests.eastWest(upstream, configure: { configuration in
            guard configuration.cluster == "east" else { return }
            configuration.eventLoopThreads = 1
            configuration.resilience.maxConcurrentStreamsPerPeer = 2
        }) { mesh in
            let port = mesh.port("east")
            try await withThrowingTaskGroup(of: TestResponse.self) { group in
                // Two event streams that stay open until the model server is released.
                try await Self.openTwoStreams(port: port, upstream: upstream, in: &group)

                for _ in 0..<3 {
                    let started = ContinuousClock.now
                    let excess = try await TestClient.send(port: port, .GET, "/v1/models")
                    Self.expectOverflow(excess)
                    #expect(ContinuousClock.now - started < .seconds(1), "overflow is answered at once")
                }
                #expect(upstream.requests.value.count == 2, "no excess request reached the model server")
                #expect(!mesh.gateways["east"]!.isEjected("west"), "overflow is not a failure of the peer")

                upstream.releaseStream()
                var admitted = 0
                for try await response in group {
                    #expect(response.status == 200)
                    #expect(response.body == "data: first\n\ndata: last\n\n")
                    admitted += 1
                }
                #expect(admitted == 2)
            }
            // The streams closed: the breaker lets requests through again.
            let after = try await TestClient.send(port: port, .GET, "/v1/models")
            #expect(after.status == 200)
        }
    }

    @Test("with 2 requests allowed to wait for a peer connection, the third gets 503 overflow at once")
    func pendingLimit() async throws {
        // "west" accepts TCP and never answers the TLS handshake: east's connection stays connecting for the connect
        // timeout, and requests wait for it.
        let stalled = try await StallingPeer.Listener.start()
        defer { Task { await stalled.stop() } }
        try await Mesh.run(
            endpoints: ["east": [:]],
            tables: { tunnel in
                ["east": TestTables.table(source: "east", address: tunnel["east"]!, peers: ["west": "127.0.0.1:\(stalled.port)"],
                                          levels: [[("west", 1)]])]
            },
            configure: { configuration in
                configuration.eventLoopThreads = 1
                configuration.connectTimeout = .seconds(4)
                configuration.probeInterval = .seconds(60)
                configuration.resilience.maxPendingPerPeer = 2
            }
        ) { mesh in
            let port = mesh.port("east")
            let connecting = try await eventually { !stalled.accepted.value.isEmpty }
            try #require(connecting, "east did not connect to the stalled peer")
            try await withThrowingTaskGroup(of: TestResponse.self) { group in
                for _ in 0..<2 {
                    group.addTask { try await TestClient.send(port: port, .GET, "/v1/models") }
                }
                try await Task.sleep(for: .milliseconds(300))
                let started = ContinuousClock.now
                let excess = try await TestClient.send(port: port, .GET, "/v1/models")
                Self.expectOverflow(excess)
                #expect(ContinuousClock.now - started < .seconds(1), "overflow is answered at once, not after the connect timeout")
                // The two that waited fail when the handshake times out: unavailable, not overflow.
                for try await waited in group {
                    #expect(waited.status == 503)
                    #expect((waited.json?["error"] as? [String: Any])?["code"] as? String == "upstream_unavailable", "\(waited.body)")
                }
            }
        }
    }

    @Test("with 2 connections per local endpoint, 2 slow streams hold them, 1 request waits and is served on a freed connection, the next gets 503 overflow")
    func endpointConnectionLimit() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await GatewayEndToEndTests.eastWest(upstream, configure: { configuration in
            guard configuration.cluster == "west" else { return }
            configuration.eventLoopThreads = 1
            configuration.resilience.maxConnectionsPerEndpoint = 2
            configuration.resilience.maxPendingPerPeer = 1
        }) { mesh in
            let port = mesh.port("east")
            try await withThrowingTaskGroup(of: TestResponse.self) { group in
                // Two event streams hold west's two connections to the model server until it is released.
                try await Self.openTwoStreams(port: port, upstream: upstream, in: &group)

                // A third waits at west for a connection (the pending limit is 1)...
                group.addTask { try await TestClient.send(port: port, .GET, "/v1/models") }
                try await Task.sleep(for: .milliseconds(300))
                #expect(upstream.requests.value.count == 2, "the waiting request did not open a third connection")

                // ... and a fourth finds the queue full: west answers overflow, east has no other destination.
                let started = ContinuousClock.now
                let excess = try await TestClient.send(port: port, .GET, "/v1/models")
                Self.expectOverflow(excess)
                #expect(ContinuousClock.now - started < .seconds(1), "overflow is answered at once")
                #expect(!mesh.gateways["east"]!.isEjected("west"), "the peer's overflow is not a failure of the peer")

                upstream.releaseStream()
                var bodies: [String] = []
                for try await response in group {
                    #expect(response.status == 200)
                    bodies.append(response.body)
                }
                #expect(bodies.filter { $0 == "data: first\n\ndata: last\n\n" }.count == 2)
                #expect(bodies.filter { $0.contains("west-model") }.count == 1, "the waiting request was served")
            }
            #expect(upstream.requests.value.count == 3)
            #expect(upstream.connectionsAccepted.value == 2, "the waiting request reused a freed connection")
        }
    }

    @Test("an idle keep-alive connection to a model server is reused, then closed after the upstream idle timeout")
    func idleUpstreamConnectionsClose() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await GatewayEndToEndTests.eastWest(upstream, configure: { configuration in
            guard configuration.cluster == "west" else { return }
            configuration.eventLoopThreads = 1
            configuration.upstreamIdleTimeout = .milliseconds(600)
        }) { mesh in
            let port = mesh.port("east")
            #expect(try await TestClient.send(port: port, .GET, "/v1/models").status == 200)
            #expect(try await TestClient.send(port: port, .GET, "/v1/models").status == 200)
            let lastUse = ContinuousClock.now
            #expect(upstream.connectionsAccepted.value == 1, "the second request reused the idle connection")
            #expect(upstream.connectionsClosed.value == 0)

            let closed = try await eventually(timeout: .seconds(5)) { upstream.connectionsClosed.value == 1 }
            let idle = ContinuousClock.now - lastUse
            #expect(closed, "the idle connection was not closed")
            #expect(idle >= .milliseconds(600), "closed after \(idle), before the idle timeout")

            #expect(try await TestClient.send(port: port, .GET, "/v1/models").status == 200)
            #expect(upstream.connectionsAccepted.value == 2, "a new connection after the idle one closed")
        }
    }
}
