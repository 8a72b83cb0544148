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

    /// `meridian_gateway_tunnel_window_growths_total` of a gateway.
    static func growths(_ gateway: Gateway) -> Int {
        var text: [UInt8] = []
        gateway.metrics.registry.emit(into: &text)
        let line = String(decoding: text, as: UTF8.self).split(separator: "\n")
            .first { $0.hasPrefix("meridian_gateway_tunnel_window_growths_total ") }
        return line.flatMap { Int(Double($0.split(separator: " ").last ?? "") ?? -1) } ?? -1
    }

    @Test("over a 60 ms round trip, an upload grows the receiving gateway's window and a download the other's; every byte arrives")
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
        }
    }
}
