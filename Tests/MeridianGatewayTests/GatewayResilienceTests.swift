import Foundation
import MeridianGateway
import MeridianModel
import NIOCore
import NIOHTTP1
import Testing

/// east sends `chat` to south and west at P0; south's model server is down, so south answers 503.
@Suite("Gateway resilience", .serialized, .timeLimit(.minutes(2)))
struct GatewayResilienceTests {
    static func withBrokenSouth<R: Sendable>(_ upstream: TestUpstream, configure: @Sendable (inout GatewayConfiguration) -> Void = { _ in },
                                             _ body: @Sendable (Mesh) async throws -> R) async throws -> R {
        try await Mesh.run(
            endpoints: ["east": [:], "west": ["chat": ["127.0.0.1:\(upstream.port)"]], "south": ["chat": ["127.0.0.1:1"]]],
            tables: { tunnel in
                let all = ["east": tunnel["east"]!, "west": tunnel["west"]!, "south": tunnel["south"]!]
                return [
                    "east": TestTables.table(source: "east", address: all["east"]!, peers: all.filter { $0.key != "east" },
                                             levels: [[("south", 0.5), ("west", 0.5)]]),
                    "west": TestTables.table(source: "west", address: all["west"]!, peers: all.filter { $0.key != "west" }, levels: [[("west", 1)]]),
                    "south": TestTables.table(source: "south", address: all["south"]!, peers: all.filter { $0.key != "south" }, levels: [[("south", 1)]]),
                ]
            }, configure: configure, body)
    }

    @Test("an idempotent request that south fails is retried on west; after 5 failures south is ejected and gets no more attempts")
    func retryAndEjection() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.withBrokenSouth(upstream, configure: { $0.metricsPort = 0 }) { mesh in
            for _ in 0..<12 {
                let response = try await TestClient.send(port: mesh.port("east"), .GET, "/v1/models")
                #expect(response.status == 200, "GET is retried on the next destination")
                #expect(response.json?["upstream"] as? String == "west-model")
            }
            #expect(mesh.gateways["east"]!.isEjected("south"), "5 consecutive 5xx eject south")
            #expect(!mesh.gateways["east"]!.isEjected("west"))
            // Ejected, south is not tried: the next requests go to west at the first attempt (no retry counted).
            let retriesBefore = try await Self.retries(mesh)
            #expect(retriesBefore >= 5, "south's five failures were retried")
            for _ in 0..<10 {
                let response = try await TestClient.send(port: mesh.port("east"), .GET, "/v1/models")
                #expect(response.status == 200 && response.json?["upstream"] as? String == "west-model")
            }
            #expect(try await Self.retries(mesh) == retriesBefore, "an ejected destination was tried")
        }
    }

    /// East's `meridian_gateway_retries_total` for `chat`.
    static func retries(_ mesh: Mesh) async throws -> Int {
        let metrics = try await TestClient.send(port: mesh.addresses["east"]!.metricsPort!, .GET, "/metrics", host: "localhost")
        let prefix = #"meridian_gateway_retries_total{service="chat"} "#
        let line = try #require(metrics.body.split(separator: "\n").first { $0.hasPrefix(prefix) })
        return try #require(Int(line.dropFirst(prefix.count)))
    }

    @Test("a POST is not retried unless it says meridian-retry: true")
    func nonIdempotentNotRetried() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.withBrokenSouth(upstream) { mesh in
            var statuses: [Int] = []
            for _ in 0..<4 {
                statuses.append(try await TestClient.send(port: mesh.port("east"), .POST, "/v1/completions", body: "{}").status)
            }
            #expect(statuses.contains(503), "half the POSTs go to south and are not retried: \(statuses)")
            #expect(statuses.contains(200))
            for _ in 0..<4 {
                let retried = try await TestClient.send(port: mesh.port("east"), .POST, "/v1/completions",
                                                        headers: [("meridian-retry", "true")], body: "{}")
                #expect(retried.status == 200)
            }
        }
    }

    @Test("a peer that stops answering is ejected by probes and traffic moves to the next level")
    func probeEjectionMovesTraffic() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        let backup = try await TestUpstream.start(name: "south-model")
        defer { Task { await upstream.stop(); await backup.stop() } }
        try await Mesh.run(
            endpoints: ["east": [:], "west": ["chat": ["127.0.0.1:\(upstream.port)"]], "south": ["chat": ["127.0.0.1:\(backup.port)"]]],
            tables: { tunnel in
                let all = ["east": tunnel["east"]!, "west": tunnel["west"]!, "south": tunnel["south"]!]
                return [
                    "east": TestTables.table(source: "east", address: all["east"]!, peers: all.filter { $0.key != "east" },
                                             levels: [[("west", 1)], [("south", 1)]]),
                    "west": TestTables.table(source: "west", address: all["west"]!, peers: all.filter { $0.key != "west" }, levels: [[("west", 1)]]),
                    "south": TestTables.table(source: "south", address: all["south"]!, peers: all.filter { $0.key != "south" }, levels: [[("south", 1)]]),
                ]
            }
        ) { mesh in
            let first = try await TestClient.send(port: mesh.port("east"), .GET, "/")
            #expect(first.json?["upstream"] as? String == "west-model")
            // West goes away: its connection drops and east moves to P1 (south) at once.
            mesh.stop("west")
            let disconnected = try await eventually { !mesh.gateways["east"]!.isConnected(toPeer: "west") }
            #expect(disconnected)
            let moved = try await TestClient.send(port: mesh.port("east"), .GET, "/")
            #expect(moved.status == 200)
            #expect(moved.json?["upstream"] as? String == "south-model")
            // Probes keep failing: west is ejected (3 failed probes, 200 ms apart).
            let ejected = try await eventually(timeout: .seconds(5)) { mesh.gateways["east"]!.isEjected("west") }
            #expect(ejected)
        }
    }

    @Test("a gateway shutting down gracefully sends GOAWAY: non-idempotent requests move to the next level without failing")
    func gracefulDrain() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        let backup = try await TestUpstream.start(name: "south-model")
        defer { Task { await upstream.stop(); await backup.stop() } }
        try await Mesh.run(
            endpoints: ["east": [:], "west": ["chat": ["127.0.0.1:\(upstream.port)"]], "south": ["chat": ["127.0.0.1:\(backup.port)"]]],
            tables: { tunnel in
                let all = ["east": tunnel["east"]!, "west": tunnel["west"]!, "south": tunnel["south"]!]
                return [
                    "east": TestTables.table(source: "east", address: all["east"]!, peers: all.filter { $0.key != "east" },
                                             levels: [[("west", 1)], [("south", 1)]]),
                    "west": TestTables.table(source: "west", address: all["west"]!, peers: all.filter { $0.key != "west" }, levels: [[("west", 1)]]),
                    "south": TestTables.table(source: "south", address: all["south"]!, peers: all.filter { $0.key != "south" }, levels: [[("south", 1)]]),
                ]
            },
            configure: { $0.drainTimeout = .seconds(2) }
        ) { mesh in
            var statuses: [Int] = []
            var servedBy: [String] = []
            var failures: [String] = []
            for index in 0..<40 {
                if index == 10 { mesh.stop("west") }
                let response = try await TestClient.send(port: mesh.port("east"), .POST, "/v1/completions", body: "{}")
                statuses.append(response.status)
                servedBy.append(response.json?["upstream"] as? String ?? "-")
                if response.status != 200 { failures.append("#\(index): \(response.status) \(response.body)") }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses) \(failures)")
            #expect(servedBy.prefix(10).allSatisfy { $0 == "west-model" })
            #expect(servedBy.suffix(10).allSatisfy { $0 == "south-model" })
        }
    }
}
