import Foundation
import MeridianGateway
import Testing

/// A real gRPC client and server (Python grpcio) through east -> west: the user's program calls east's local
/// listener with the authority `chat.meridian`; west sends the call to the grpcio server on its h2c endpoint.
@Suite("Gateway gRPC interop (grpcio)", .serialized, .timeLimit(.minutes(2)),
       .enabled(if: PythonGRPC.isAvailable, PythonGRPC.skipReason))
struct GatewayGRPCInteropTests {
    @Test("unary, server-, client- and bidirectional streaming through the pair, with trailers and non-OK statuses")
    func grpcioThroughThePair() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-grpc-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = try PythonGRPC.writeScript(in: directory)
        let server = try await PythonGRPC.Server.start(script: script, directory: directory)
        defer { server.stop() }

        let output = try await Mesh.run(
            endpoints: ["east": [:], "west": ["chat": ["h2c://127.0.0.1:\(server.port)"]]],
            tables: { tunnel in
                [
                    "east": TestTables.table(source: "east", address: tunnel["east"]!, peers: ["west": tunnel["west"]!], levels: [[("west", 1)]]),
                    "west": TestTables.table(source: "west", address: tunnel["west"]!, peers: ["east": tunnel["east"]!], levels: [[("west", 1)]]),
                ]
            }
        ) { mesh in
            let client = try ChildProcess.start(["python3", script, "client", String(mesh.port("east")), "chat.meridian"],
                                                directory: directory, name: "grpc-client")
            let status = try await client.wait(timeout: .seconds(60))
            #expect(status == 0, "the grpcio client failed: \(client.standardError())")
            return client.standardOutput()
        }

        let results = try #require((try? JSONSerialization.jsonObject(with: Data(output.utf8))) as? [String: [String: Any]],
                                   "the client printed no JSON: \(output)")
        func trailers(_ call: String) -> [String: String] { results[call]?["trailers"] as? [String: String] ?? [:] }

        // Unary: the reply, the server's custom trailer, and the mesh header the server saw (west set it).
        #expect(results["unary"]?["code"] as? String == "OK")
        #expect(results["unary"]?["reply"] as? String == "echo:hello")
        #expect(trailers("unary")["x-trailer"] == "unary")
        #expect(trailers("unary")["x-source-cluster"] == "east")

        #expect(results["server_stream"]?["code"] as? String == "OK")
        #expect(results["server_stream"]?["reply"] as? [String] == ["msg-0", "msg-1", "msg-2", "msg-3", "msg-4"])
        #expect(trailers("server_stream")["x-trailer"] == "server-stream")

        #expect(results["client_stream"]?["code"] as? String == "OK")
        #expect(results["client_stream"]?["reply"] as? String == "3:60", "3 messages, 60 bytes")
        #expect(trailers("client_stream")["x-trailer"] == "client-stream")

        // Bidirectional in lock step: the client waited for each reply before sending the next message.
        #expect(results["bidi"]?["code"] as? String == "OK")
        #expect(results["bidi"]?["reply"] as? [String] == ["ALPHA", "BETA", "GAMMA"])
        #expect(trailers("bidi")["x-trailer"] == "bidi")

        // A non-OK status before any message (a trailers-only response) and one after two messages.
        #expect(results["fail"]?["code"] as? String == "RESOURCE_EXHAUSTED")
        #expect(results["fail"]?["details"] as? String == "quota exceeded for tenant-7")
        #expect(trailers("fail")["x-trailer"] == "failed")
        #expect(results["fail_mid_stream"]?["code"] as? String == "UNAVAILABLE")
        #expect(results["fail_mid_stream"]?["details"] as? String == "model unloaded")
        #expect(results["fail_mid_stream"]?["reply"] as? [String] == ["one", "two"])
        #expect(trailers("fail_mid_stream")["x-trailer"] == "failed-mid-stream")
    }
}
