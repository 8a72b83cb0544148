import Foundation
import MeridianGateway
import NIOCore
import NIOHTTP1
import Prometheus
import Testing

/// Tunnel windows grow with the link (``AdaptiveWindow``): east reaches west through a relay that delays each
/// direction by 30 ms, the gateways start with 64 KiB windows (at most 1 MB/s per stream across that link) and may
/// grow them to 512 KiB (kept small, so that the transfers stay light for the suites running beside this one: with
/// 4 MiB they took enough CPU to delay another suite's requests by over a second).
@Suite("Gateway adaptive window", .serialized, .timeLimit(.minutes(2)))
struct GatewayWindowGrowthTests {
    static let size = 8 << 20

    /// The value of the sample `name` (with its labels, as exposed) of a gateway, or -1 if it has none.
    static func metric(_ gateway: Gateway, _ name: String) -> Int {
        var text: [UInt8] = []
        gateway.metrics.registry.emit(into: &text)
        let line = String(decoding: text, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Int(Double($0.split(separator: " ").last ?? "") ?? -1) } ?? -1
    }

    /// `meridian_gateway_tunnel_window_growths_total` of a gateway.
    static func growths(_ gateway: Gateway) -> Int {
        metric(gateway, "meridian_gateway_tunnel_window_growths_total")
    }

    /// `meridian_gateway_tunnel_window_bytes` of a gateway's latest tunnel connection with `peer`.
    static func window(_ gateway: Gateway, peer: String, outgoing: Bool) -> Int {
        metric(gateway, #"meridian_gateway_tunnel_window_bytes{peer="\#(peer)",connection="\#(outgoing ? "outgoing" : "incoming")"}"#)
    }

    @Test("over a 60 ms round trip, an upload grows the receiving gateway's window and a download the other's; every byte arrives; connections made again after the link drops start at the grown windows")
    func windowsGrowOnALongLink() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        let westTunnel = Locked<SocketAddress?>(nil)
        let relay = try await DelayRelay.start(oneWay: .milliseconds(30)) { westTunnel.value }
        defer { Task { await relay.stop() } }
        try await Mesh.run(
            endpoints: ["east": [:], "west": ["chat": ["127.0.0.1:\(upstream.port)"]]],
            tables: { tunnel in
                let west = tunnel["west"]!
                westTunnel.withLock { $0 = try? SocketAddress(ipAddress: "127.0.0.1", port: Int(west.split(separator: ":").last!)!) }
                return [
                    "east": TestTables.table(source: "east", address: tunnel["east"]!, peers: ["west": "127.0.0.1:\(relay.port)"], levels: [[("west", 1)]], timeout: 120),
                    "west": TestTables.table(source: "west", address: west, peers: ["east": tunnel["east"]!], levels: [[("west", 1)]], timeout: 120),
                ]
            },
            configure: { configuration in
                configuration.http2Window = 64 * 1024
                configuration.http2WindowMax = 512 * 1024
                configuration.eventLoopThreads = 1   // one tunnel connection each way, whose window the metric shows
            }
        ) { mesh in
            let east = mesh.gateways["east"]!, west = mesh.gateways["west"]!
            #expect(Self.growths(east) == 0 && Self.growths(west) == 0, "nothing has flowed yet")

            let upload = try await TestClient.send(port: mesh.port("east"), .PUT, "/upload", body: String(repeating: "u", count: Self.size))
            #expect(upload.status == 200 && upload.body == "received \(Self.size)", "\(upload.status) \(upload.body.prefix(200))")
            #expect(Self.growths(west) > 0, "west received the upload through a 64 KiB window over 60 ms")

            let download = try await TestClient.send(port: mesh.port("east"), .GET, "/bytes/\(Self.size)")
            #expect(download.status == 200 && download.body.utf8.count == Self.size && download.body.utf8.allSatisfy { $0 == UInt8(ascii: "b") })
            #expect(Self.growths(east) > 0, "east received the download through a 64 KiB window over 60 ms")

            // The windows the connections grew to: west's for the upload (the connection it accepted from east),
            // east's for the download (the one it made).
            let grownEast = Self.window(east, peer: "west", outgoing: true)
            let grownWest = Self.window(west, peer: "east", outgoing: false)
            #expect(grownEast == 512 * 1024, "grown to the maximum: \(grownEast)")
            #expect(grownWest == 512 * 1024, "grown to the maximum: \(grownWest)")
            let growthsBefore = (Self.growths(east), Self.growths(west))

            // The link drops. East connects again at once (the connection was up for over a second).
            relay.dropConnections()
            let reconnected = try await eventually(timeout: .seconds(10)) { relay.acceptedCount == 2 && east.isConnected(toPeer: "west") }
            #expect(reconnected, "east connected to west again through the relay")
            #expect(Self.window(east, peer: "west", outgoing: true) == grownEast, "east's new connection starts where the last grew")

            // West learns who called at the connection's first stream, and opens its windows then.
            let small = try await TestClient.send(port: mesh.port("east"), .GET, "/bytes/1000")
            #expect(small.status == 200 && small.body.utf8.count == 1000)
            #expect(Self.window(west, peer: "east", outgoing: false) == grownWest, "west's new connection from east starts where the last grew")
            #expect((Self.growths(east), Self.growths(west)) == growthsBefore, "no growth was needed: \(growthsBefore)")

            // The gauge could be a stale value; a transfer cannot: another upload needs no growth at west (from
            // 64 KiB it would grow, as the first one did).
            let again = try await TestClient.send(port: mesh.port("east"), .PUT, "/upload", body: String(repeating: "u", count: Self.size))
            #expect(again.status == 200 && again.body == "received \(Self.size)")
            #expect(Self.growths(west) == growthsBefore.1, "west's new connection started at the grown window")
        }
    }
}
