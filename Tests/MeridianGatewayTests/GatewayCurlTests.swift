import Foundation
import MeridianGateway
import Testing

enum CurlTool {
    static let available = (try? ChildProcess.runBlocking(["curl", "--version"])) == 0
}

/// The gateway pair driven by curl, as a user would: HTTP/1.1 and h2c (prior knowledge) requests, a request body,
/// a server-sent-event stream read as it arrives (`curl -N`), and a refusal's JSON error. Skipped with a reason when
/// curl is not installed (`.ci/run` installs it).
@Suite("Gateway through curl", .serialized, .timeLimit(.minutes(2)),
       .enabled(if: CurlTool.available, "curl is not installed (apt-get install curl)"))
struct GatewayCurlTests {
    /// What curl printed: the response headers (`-D`), the body, and `-w`'s status line at the end.
    struct CurlResult {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    static func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-curl-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Runs curl against east's local listener for `chat.meridian` and parses what it printed.
    static func curl(port: Int, _ path: String, _ options: [String], in directory: String, name: String) async throws -> CurlResult {
        let headersFile = (directory as NSString).appendingPathComponent("\(name).headers")
        let process = try ChildProcess.start(
            ["curl", "-sS", "--max-time", "20", "-H", "Host: chat.meridian", "-D", headersFile, "-w", "\n%{http_code}"]
                + options + ["http://127.0.0.1:\(port)\(path)"],
            directory: directory, name: name)
        let status = try await process.wait(timeout: .seconds(30))
        #expect(status == 0, "curl failed: \(process.standardError())")
        var output = process.standardOutput()
        let code = output.split(separator: "\n").last.flatMap { Int($0) } ?? 0
        if let cut = output.lastIndex(of: "\n") { output = String(output[..<cut]) }
        var headers: [String: String] = [:]
        let raw = (try? String(contentsOfFile: headersFile, encoding: .utf8)) ?? ""
        for line in raw.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":"), !line.hasPrefix("HTTP/") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return CurlResult(status: code, headers: headers, body: output)
    }

    @Test("curl over HTTP/1.1 and over h2c (prior knowledge): the request reaches west's model server with the mesh headers", arguments: [
        ["--http1.1"], ["--http2-prior-knowledge"],
    ])
    func plainRequests(_ version: [String]) async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await GatewayEndToEndTests.eastWest(upstream) { mesh in
            let result = try await Self.curl(port: mesh.port("east"), "/v1/models", version, in: directory, name: "get")
            #expect(result.status == 200)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.body.utf8)) as? [String: Any])
            #expect(json["upstream"] as? String == "west-model")
            let headers = try #require(json["headers"] as? [String: String])
            #expect(headers["meridian-source-cluster"] == "east")
            #expect(headers["traceparent"] != nil, "the gateway starts a trace when the client sent none")

            // A body (64 KiB from a file), streamed to the model server, which counts it.
            let bodyFile = (directory as NSString).appendingPathComponent("body.bin")
            try Data(repeating: 0x7A, count: 64 * 1024).write(to: URL(fileURLWithPath: bodyFile))
            let upload = try await Self.curl(port: mesh.port("east"), "/upload", version + ["--data-binary", "@\(bodyFile)"],
                                             in: directory, name: "upload")
            #expect(upload.status == 200)
            #expect(upload.body == "received \(64 * 1024)")
        }
    }

    @Test("curl -N reads an SSE stream through the pair: the first event arrives before the model server writes the last", arguments: [
        ["--http1.1"], ["--http2-prior-knowledge"],
    ])
    func serverSentEvents(_ version: [String]) async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await GatewayEndToEndTests.eastWest(upstream) { mesh in
            let process = try ChildProcess.start(
                ["curl", "-sS", "-N", "--max-time", "20", "-X", "POST", "-H", "Host: chat.meridian", "-H", "Accept: text/event-stream"]
                    + version + ["http://127.0.0.1:\(mesh.port("east"))/sse"],
                directory: directory, name: "sse")
            defer { process.terminate() }
            // The model server holds its last event until the first one has reached curl's output.
            let deadline = ContinuousClock.now + .seconds(10)
            while !process.standardOutput().contains("data: first"), ContinuousClock.now < deadline, process.isRunning {
                try await Task.sleep(for: .milliseconds(10))
            }
            let early = process.standardOutput()
            #expect(early.contains("data: first"), "the first event did not reach curl: \(early) \(process.standardError())")
            #expect(!early.contains("data: last"))
            upstream.releaseStream()
            #expect(try await process.wait(timeout: .seconds(10)) == 0, "curl: \(process.standardError())")
            #expect(process.standardOutput() == "data: first\n\ndata: last\n\n")
        }
    }

    @Test("curl sees a refusal as a user would: 451, the decision header, and a JSON error naming the field")
    func refusal() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await GatewayEndToEndTests.eastWest(upstream) { mesh in
            let result = try await Self.curl(port: mesh.port("east"), "/v1/chat/completions",
                                             ["--http1.1", "-H", "meridian-data-class: eu-only", "--data", "{}"], in: directory, name: "refused")
            #expect(result.status == 451)
            #expect(result.headers["meridian-decision"] != nil)
            #expect(result.headers["content-type"] == "application/json")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.body.utf8)) as? [String: Any])
            let error = try #require(json["error"] as? [String: Any], "no error object in \(result.body)")
            #expect(error["field"] as? String == "meridian-data-class", "\(result.body)")
            #expect(upstream.requests.value.isEmpty, "a refused request never reaches the model server")
        }
    }
}
