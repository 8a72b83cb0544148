import Foundation
import MeridianGateway
import MeridianModel
import NIOCore
import NIOHTTP1
import NIOHTTP2
import Testing

/// Two (or three) gateways on loopback with real mTLS, static tables, and a tiny HTTP/1.1 model server behind west.
@Suite("Gateway end to end", .serialized, .timeLimit(.minutes(2)))
struct GatewayEndToEndTests {
    /// east -> west, where west serves `chat` from `upstream`.
    static func eastWest<R: Sendable>(_ upstream: TestUpstream, timeout: Double = 30,
                                      configure: @Sendable (inout GatewayConfiguration) -> Void = { _ in },
                                      _ body: @Sendable (Mesh) async throws -> R) async throws -> R {
        try await Mesh.run(
            endpoints: ["east": [:], "west": ["chat": ["127.0.0.1:\(upstream.port)"]]],
            tables: { tunnel in
                [
                    "east": TestTables.table(source: "east", address: tunnel["east"]!, peers: ["west": tunnel["west"]!], levels: [[("west", 1)]], timeout: timeout),
                    "west": TestTables.table(source: "west", address: tunnel["west"]!, peers: ["east": tunnel["east"]!, "north": "127.0.0.1:9"],
                                             levels: [[("west", 1)]], timeout: timeout),
                ]
            },
            configure: configure, body)
    }

    @Test("an HTTP/1.1 request goes east -> west -> model server, with the mesh headers and a new span")
    func http1ThroughTwoGateways() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream, configure: { $0.metricsPort = 0 }) { mesh in
            let response = try await TestClient.send(port: mesh.port("east"), .GET, "/v1/models",
                                                     headers: [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")])
            #expect(response.status == 200)
            let json = try #require(response.json)
            #expect(json["upstream"] as? String == "west-model")
            #expect(json["path"] as? String == "/v1/models")
            let headers = try #require(json["headers"] as? [String: String])
            #expect(headers["meridian-source-cluster"] == "east")
            #expect(headers["meridian-service"] == "chat")
            #expect(headers["meridian-data-class"] == "public")
            let trace = try #require(headers["traceparent"])
            #expect(trace.hasPrefix("00-4bf92f3577b34da6a3ce929d0e0e4736-"))
            #expect(!trace.contains("00f067aa0ba902b7"))

            // The service may also be named by header, with any authority; a POST with a body works too.
            let post = try await TestClient.send(port: mesh.port("east"), .POST, "/v1/chat/completions", host: "localhost",
                                                 headers: [("meridian-service", "chat")], body: #"{"prompt":"hi"}"#)
            #expect(post.status == 200)

            // Metrics: requests by source, destination, service and status; table version; peer up.
            let metrics = try await TestClient.send(port: mesh.addresses["east"]!.metricsPort!, .GET, "/metrics", host: "localhost")
            #expect(metrics.status == 200)
            #expect(metrics.body.contains(#"meridian_gateway_requests_total{source="east",destination="west",service="chat",status="200"} 2"#))
            #expect(metrics.body.contains("meridian_gateway_table_version 1"))
            #expect(metrics.body.contains(#"meridian_gateway_peer_up{peer="west"} 1"#))
            #expect(metrics.body.contains("# TYPE meridian_gateway_request_duration_seconds histogram"))
            #expect(metrics.body.contains(#"meridian_gateway_request_duration_seconds_bucket{source="east",destination="west",service="chat",le="+Inf"} 2"#))
            #expect(metrics.body.contains(#"meridian_gateway_request_duration_seconds_count{source="east",destination="west",service="chat"} 2"#))
            let westMetrics = try await TestClient.send(port: mesh.addresses["west"]!.metricsPort!, .GET, "/metrics", host: "localhost")
            #expect(westMetrics.body.contains(#"meridian_gateway_requests_total{source="east",destination="west",service="chat",status="200"} 2"#))
            let ready = try await TestClient.send(port: mesh.addresses["east"]!.metricsPort!, .GET, "/readyz", host: "localhost")
            #expect(ready.status == 200)
        }
    }

    @Test("hundreds of requests share the warm connection: finished streams are not reset (no GOAWAY from the peer's reset limit)")
    func manyRequestsOneConnection() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream) { mesh in
            let connection = try await TestClient.connect(port: mesh.port("east"))
            let statuses = try await connection.executeThenClose { inbound, outbound in
                var statuses: [Int] = []
                var iterator = inbound.makeAsyncIterator()
                for _ in 0..<300 {
                    try await outbound.write(.head(TestClient.head(.GET, "/v1/models", host: "chat.meridian", headers: [])))
                    try await outbound.write(.end(nil))
                    while let part = try await iterator.next() {
                        if case .head(let head) = part { statuses.append(Int(head.status.code)) }
                        if case .end = part { break }
                    }
                }
                return statuses
            }
            #expect(statuses.count == 300)
            #expect(statuses.allSatisfy { $0 == 200 })
            #expect(mesh.gateways["east"]!.isConnected(toPeer: "west"))
        }
    }

    @Test("a model server's connection that answered 'connection: close' is not used again, though the server left it open")
    func endpointCloseIsHonoured() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream) { mesh in
            // One request at a time: west keeps one connection to the model server, idle between requests.
            let first = try await TestClient.send(port: mesh.port("east"), .GET, "/v1/models")
            #expect(first.status == 200)
            let closing = try await TestClient.send(port: mesh.port("east"), .GET, "/close")
            #expect(closing.status == 200)
            let closed = try #require(closing.headers.first(name: "x-connection").flatMap { Int($0) })
            #expect(closing.body == "closed")
            #expect(!closing.headers.contains { $0.name.lowercased() == "connection" && $0.value.lowercased() == "close" },
                    "the endpoint's connection field reached the client")
            for _ in 0..<3 {
                let next = try await TestClient.send(port: mesh.port("east"), .GET, "/v1/models")
                let connection = try #require(next.json?["connection"] as? Int)
                #expect(connection != closed, "a request went on the connection the model server said it would close")
            }
        }
    }

    @Test("a malformed request or an oversized header gets its error, and the gateway keeps serving")
    func badRequestsDoNotHurtOthers() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream) { mesh in
            let huge = try await TestClient.send(port: mesh.port("east"), .GET, "/", headers: [("x-huge", String(repeating: "a", count: 100_000))])
            #expect(huge.status == 431)
            #expect((huge.json?["error"] as? [String: Any])?["field"] as? String == "headers")
            let fine = try await TestClient.send(port: mesh.port("east"), .GET, "/v1/models")
            #expect(fine.status == 200)
            // Not HTTP at all: a JSON 400 naming the request, then the close.
            let garbage = try #require(try await TestClient.sendRaw(port: mesh.port("east"), "GET / HTTP/1.1\r\nHost chat.meridian\r\n\r\n"),
                                       "the gateway did not close the connection")
            #expect(garbage.hasPrefix("HTTP/1.1 400 "), "\(garbage)")
            #expect(garbage.contains(#""field":"request""#), "\(garbage)")
            #expect(garbage.lowercased().contains("connection: close"), "\(garbage)")
            let noClass = try await TestClient.send(port: mesh.port("east"), .GET, "/", headers: [("meridian-data-class", "secret")])
            #expect(noClass.status == 400)
            #expect((noClass.json?["error"] as? [String: Any])?["field"] as? String == "meridian-data-class")
            // A host that is not an authority (it would reach an h2c endpoint as `:authority`), or two of them: 400
            // naming `host`, and nothing reaches the model server.
            let before = upstream.requests.withLock { $0.count }
            for host in ["chat.meridian evil", "chat.meridian/x", "chät.meridian"] {
                let refused = try await TestClient.send(port: mesh.port("east"), .GET, "/", host: host, headers: [("meridian-service", "chat")])
                #expect(refused.status == 400, "\(host)")
                #expect((refused.json?["error"] as? [String: Any])?["field"] as? String == "host", "\(host)")
            }
            let twoHosts = try await TestClient.send(port: mesh.port("east"), .GET, "/", headers: [("host", "other.meridian")])
            #expect(twoHosts.status == 400)
            #expect((twoHosts.json?["error"] as? [String: Any])?["field"] as? String == "host")
            // A transfer coding besides chunked cannot cross the mesh (HTTP/2 has none): a client's is answered 501
            // naming transfer-encoding (then the close, as for any refusal with its body unread); a model server's
            // is answered 502, and its bytes are not relayed.
            let coded = try #require(try await TestClient.sendRaw(port: mesh.port("east"),
                "POST /upload HTTP/1.1\r\nHost: chat.meridian\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
            #expect(coded.hasPrefix("HTTP/1.1 501 "), "\(coded)")
            #expect(coded.contains(#""field":"transfer-encoding""#), "\(coded)")
            #expect(upstream.requests.withLock { $0.count } == before, "a refused request reached the model server")
            // (A POST: east does not retry it elsewhere, so west's 502 reaches the client as it is.)
            let codedResponse = try await TestClient.send(port: mesh.port("east"), .POST, "/gzip-chunked", body: "x")
            #expect(codedResponse.status == 502, "\(codedResponse.status) \(codedResponse.body)")
            #expect(codedResponse.body.contains("transfer coding 'gzip, chunked'"), "\(codedResponse.body)")
            #expect(!codedResponse.body.contains("not really gzip"))
            let withPort = try await TestClient.send(port: mesh.port("east"), .GET, "/v1/models", host: "chat.meridian:15001")
            #expect(withPort.status == 200)
        }
    }

    @Test("pipelined HTTP/1.1 requests are answered in order, a refusal among them too, and the connection stays usable")
    func pipelinedRequests() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream) { mesh in
            let connection = try await TestClient.connect(port: mesh.port("east"))
            let responses = try await connection.executeThenClose { inbound, outbound in
                var upload = TestClient.head(.POST, "/upload", host: "chat.meridian", headers: [("content-length", "5")])
                upload.headers.add(name: "x-order", value: "3")
                // All four in one write: the second and later arrive while the first is still being answered.
                try await outbound.write(contentsOf: [
                    .head(TestClient.head(.GET, "/first", host: "chat.meridian", headers: [])), .end(nil),
                    .head(TestClient.head(.GET, "/refused", host: "chat.meridian", headers: [("meridian-data-class", "secret")])), .end(nil),
                    .head(upload), .body(.byteBuffer(ByteBuffer(string: "hello"))), .end(nil),
                    .head(TestClient.head(.GET, "/last", host: "chat.meridian", headers: [])), .end(nil),
                ])
                var responses: [TestResponse] = []
                var current = TestResponse(status: 0, headers: [:], body: "")
                for try await part in inbound {
                    switch part {
                    case .head(let head):
                        current = TestResponse(status: Int(head.status.code), headers: head.headers, body: "")
                    case .body(let buffer):
                        current.body += String(buffer: buffer)
                    case .end:
                        responses.append(current)
                        if responses.count == 4 {
                            // Still open for a fifth, sent on its own.
                            try await outbound.write(contentsOf: [.head(TestClient.head(.GET, "/fifth", host: "chat.meridian", headers: [])), .end(nil)])
                        }
                        if responses.count == 5 { return responses }
                    }
                }
                return responses
            }
            #expect(responses.map(\.status) == [200, 400, 200, 200, 200])
            guard responses.count == 5 else { return }
            #expect(responses[0].json?["path"] as? String == "/first")
            #expect((responses[1].json?["error"] as? [String: Any])?["field"] as? String == "meridian-data-class")
            #expect(responses[2].body == "received 5")
            #expect(responses[3].json?["path"] as? String == "/last")
            #expect(responses[4].json?["path"] as? String == "/fifth")
        }
    }

    @Test("HTTP/1.1: after a response that closes the connection no pipelined request is processed; bytes that are not HTTP are answered 400 in turn")
    func pipelinedCloseAndParseErrors() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream) { mesh in
            let port = mesh.port("east")
            func request(_ method: String, _ path: String, _ extra: String = "") -> String {
                "\(method) \(path) HTTP/1.1\r\nHost: chat.meridian\r\n\(extra)\r\n"
            }
            // A refused POST with a body is answered with `connection: close`: the GET behind it must not reach the
            // model server.
            let refused = try #require(try await TestClient.sendRaw(port: port, request("GET", "/first")
                + request("POST", "/refused", "meridian-data-class: secret\r\ncontent-length: 3\r\n") + "abc"
                + request("GET", "/after-close")), "the gateway did not close the connection")
            let firstAnswer = try #require(refused.range(of: "HTTP/1.1 200 "), "\(refused)")
            let refusal = try #require(refused.range(of: "HTTP/1.1 400 "), "\(refused)")
            #expect(firstAnswer.lowerBound < refusal.lowerBound)
            #expect(!refused.contains("/after-close"), "\(refused)")
            // A complete request, then bytes that are not HTTP: its answer first, then the 400, then the close.
            let garbage = try #require(try await TestClient.sendRaw(port: port, request("GET", "/before-garbage") + "NOT HTTP AT ALL\r\n\r\n"),
                                       "the gateway did not close the connection")
            let answered = try #require(garbage.range(of: "HTTP/1.1 200 "), "\(garbage)")
            let rejected = try #require(garbage.range(of: "HTTP/1.1 400 "), "\(garbage)")
            #expect(answered.lowerBound < rejected.lowerBound)
            #expect(garbage.contains(#""field":"request""#), "\(garbage)")
            // A chunked body cut by a malformed chunk: that request is answered 400 (its response had not started).
            let cut = try #require(try await TestClient.sendRaw(port: port, request("POST", "/upload", "transfer-encoding: chunked\r\n")
                + "3\r\nabc\r\nzz\r\n"), "the gateway did not close the connection")
            #expect(cut.hasPrefix("HTTP/1.1 400 "), "\(cut)")
            #expect(cut.contains(#""field":"request""#), "\(cut)")
            try await Task.sleep(for: .milliseconds(300))
            let paths = upstream.requests.value.map(\.uri)
            #expect(paths.contains("/first") && paths.contains("/before-garbage"))
            #expect(!paths.contains("/after-close"), "the model server got a request pipelined behind a close: \(paths)")
        }
    }

    @Test("the local listener tells h2c from HTTP/1.1 by the first bytes, however they are split: a preface in two reads, a request whose first read is one byte")
    func protocolDetectionAcrossReads() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream) { mesh in
            let port = mesh.port("east")
            // h2c: the gateway first reads 10 bytes of the preface (it cannot tell yet), then the rest.
            let status = try await TestH2CClient.withConnection(port: port, splitFirstWrite: true) { openStream in
                let stream = try await openStream()
                var head = TestClient.head(.GET, "/split-preface", host: "chat.meridian", headers: [])
                head.version = .http2
                return try await stream.executeThenClose { inbound, outbound in
                    try await outbound.write(contentsOf: [.head(head), .end(nil)])
                    return try await TestClient.collect(inbound).status
                }
            }
            #expect(status == 200)
            // HTTP/1.1 whose first read is "P" (as the preface's is): the rest, 100 ms later, is a PUT.
            let answer = try #require(try await TestClient.sendRaw(port: port, parts: [
                "P", "UT /upload HTTP/1.1\r\nHost: chat.meridian\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
            ]), "the gateway did not close the connection")
            #expect(answer.hasPrefix("HTTP/1.1 200 ") && answer.hasSuffix("received 2"), "\(answer.prefix(300))")
            #expect(upstream.requests.value.map(\.uri).contains("/split-preface"))
        }
    }

    @Test("HTTP/1.1 responses of every size around the limits of the client side's write staging arrive whole and in order, pipelined on one connection")
    func responseSizesAroundStaging() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        // Below, at and above the largest part copied after a head (8 KiB) and the most staged (64 KiB).
        let sizes = [0, 1, 1000, 8191, 8192, 8193, 65535, 65536, 65537, 300_000]
        try await Self.eastWest(upstream) { mesh in
            var requests = sizes.map { "GET /bytes/\($0) HTTP/1.1\r\nHost: chat.meridian\r\n\r\n" }.joined()
            requests += "GET /chunked HTTP/1.1\r\nHost: chat.meridian\r\n\r\n"
            requests += "GET /bytes/5 HTTP/1.1\r\nHost: chat.meridian\r\nconnection: close\r\n\r\n"
            let received = try #require(try await TestClient.sendRaw(port: mesh.port("east"), requests), "the gateway did not close the connection")
            // Read as bytes (a String would take each CRLF as one character).
            var rest = Array(received.utf8)[...]
            func line() throws -> String {
                let end = try #require(rest.indices.first { rest[$0] == UInt8(ascii: "\r") && rest.dropFirst($0 - rest.startIndex + 1).first == UInt8(ascii: "\n") })
                defer { rest = rest[(end + 2)...] }
                return String(decoding: rest[..<end], as: UTF8.self)
            }
            func take(_ count: Int) -> String {
                defer { rest = rest.dropFirst(count) }
                return String(decoding: rest.prefix(count), as: UTF8.self)
            }
            for (index, size) in (sizes + [-1, 5]).enumerated() {
                let status = try line()
                #expect(status.prefix(13) == "HTTP/1.1 200 ", "response \(index)")
                var fields: [String] = []
                while case let field = try line(), !field.isEmpty { fields.append(field.lowercased()) }
                if size >= 0 {
                    #expect(fields.contains("content-length: \(size)"), "\(fields)")
                    let body = take(size)
                    #expect(body.utf8.count == size && body.utf8.allSatisfy { $0 == UInt8(ascii: "b") }, "response \(index): \(size) bytes of b")
                } else {
                    // Chunked: each chunk's size in hexadecimal, CRLF, the bytes, CRLF; a zero-size chunk ends it.
                    #expect(fields.contains("transfer-encoding: chunked"), "\(fields)")
                    var body = ""
                    while let count = Int(try line(), radix: 16), count > 0 {
                        body += take(count)
                        #expect(try line().isEmpty)
                    }
                    #expect(try line().isEmpty, "no trailers, then the empty line")
                    #expect(body == "hello world")
                }
            }
            #expect(rest.isEmpty, "nothing after the last response: \(rest.prefix(200))")
        }
    }

    @Test("a GET with a body (chunked, or with a length the client names in connection) reaches the model server framed: the body is never read as a request")
    func bodiesOfGetsStayFramed() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream) { mesh in
            let port = mesh.port("east")
            let smuggled = "GET /smuggled HTTP/1.1\r\nHost: chat.meridian\r\n\r\n"
            let chunked = String(smuggled.utf8.count, radix: 16) + "\r\n" + smuggled + "\r\n0\r\n\r\n"
            _ = try await TestClient.sendRaw(port: port, "GET /chunked HTTP/1.1\r\nHost: chat.meridian\r\ntransfer-encoding: chunked\r\n"
                + "connection: close\r\n\r\n" + chunked)
            _ = try await TestClient.sendRaw(port: port, "GET /named HTTP/1.1\r\nHost: chat.meridian\r\ncontent-length: \(smuggled.utf8.count)\r\n"
                + "connection: close, content-length\r\n\r\n" + smuggled)
            try await Task.sleep(for: .milliseconds(300))
            let paths = upstream.requests.value.map(\.uri)
            #expect(paths.contains("/chunked") && paths.contains("/named"), "\(paths)")
            #expect(!paths.contains("/smuggled"), "a request's body was read by the model server as a request: \(paths)")
        }
    }

    /// The body of a chunked HTTP/1.1 message that starts at `text`'s start, and what follows its last chunk (on the
    /// bytes: a String takes CR LF as one character).
    static func dechunk(_ text: Substring) -> (body: String, rest: String)? {
        var rest = Array(text.utf8)[...]
        var body: [UInt8] = []
        let crlf: [UInt8] = [13, 10]
        while let lineEnd = rest.indices.first(where: { rest[$0...].starts(with: crlf) }) {
            guard let size = Int(String(decoding: rest[..<lineEnd], as: UTF8.self), radix: 16) else { return nil }
            rest = rest[(lineEnd + 2)...]
            guard rest.count >= size + 2, rest.dropFirst(size).starts(with: crlf) else { return nil }
            if size == 0 { return (String(decoding: body, as: UTF8.self), String(decoding: rest.dropFirst(2), as: UTF8.self)) }
            body += rest.prefix(size)
            rest = rest.dropFirst(size + 2)
        }
        return nil
    }

    @Test("response framing to HTTP/1.x clients: chunked for 1.1, until the close for 1.0, no body after a HEAD response that names no length, nor after a 204 or 304; 100 Continue to 1.1 clients only")
    func responseFraming() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream) { mesh in
            let port = mesh.port("east")
            // HTTP/1.1: the model server's two chunks arrive as chunks (however the hops regrouped them), then the
            // next response on the connection.
            let twice = try #require(try await TestClient.sendRaw(port: port,
                "GET /chunked HTTP/1.1\r\nHost: chat.meridian\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: chat.meridian\r\nConnection: close\r\n\r\n"))
            let firstHeadEnd = try #require(twice.range(of: "\r\n\r\n"))
            #expect(twice.hasPrefix("HTTP/1.1 200 "), "\(twice)")
            #expect(twice[..<firstHeadEnd.lowerBound].lowercased().contains("transfer-encoding: chunked"), "\(twice)")
            let chunked = try #require(Self.dechunk(twice[firstHeadEnd.upperBound...]), "not a chunked body: \(twice)")
            #expect(chunked.body == "hello world")
            #expect(chunked.rest.hasPrefix("HTTP/1.1 200 "), "\(chunked.rest)")
            #expect(chunked.rest.contains(#""path":"\/v1\/models""#), "\(chunked.rest)")

            // HEAD: the head says chunked at the model server; the client gets the head alone, and the next response
            // right after it (before, NIO's encoder wrote a last chunk `0` after the head).
            let afterHead = try #require(try await TestClient.sendRaw(port: port,
                "HEAD /chunked HTTP/1.1\r\nHost: chat.meridian\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: chat.meridian\r\nConnection: close\r\n\r\n"))
            let headEnd = try #require(afterHead.range(of: "\r\n\r\n"))
            #expect(afterHead.hasPrefix("HTTP/1.1 200 "), "\(afterHead)")
            #expect(!afterHead[..<headEnd.lowerBound].lowercased().contains("transfer-encoding"), "\(afterHead)")
            #expect(afterHead[headEnd.upperBound...].hasPrefix("HTTP/1.1 200 "), "after the HEAD response: \(afterHead[headEnd.upperBound...].prefix(40))")

            // After a HEAD response, an error answered before the next request is parsed (its headers are too large)
            // still has its JSON body.
            let afterHeadError = try #require(try await TestClient.sendRaw(port: port,
                "HEAD /chunked HTTP/1.1\r\nHost: chat.meridian\r\n\r\nGET / HTTP/1.1\r\nHost: chat.meridian\r\nx-huge: \(String(repeating: "a", count: 100_000))\r\n\r\n"),
                "the gateway did not close the connection")
            let refusal = try #require(afterHeadError.range(of: "HTTP/1.1 431 "), "\(afterHeadError.prefix(300))")
            #expect(afterHeadError[refusal.lowerBound...].contains(#""field":"headers""#), "\(afterHeadError[refusal.lowerBound...])")

            // HTTP/1.0: no transfer-encoding (RFC 9112 6.1), the body as it is, then the close, even when the client
            // asked to keep the connection.
            let old = try #require(try await TestClient.sendRaw(port: port,
                "GET /chunked HTTP/1.0\r\nHost: chat.meridian\r\nConnection: keep-alive\r\n\r\n"), "the gateway did not close the connection")
            let oldHeadEnd = try #require(old.range(of: "\r\n\r\n"))
            let oldHead = old[..<oldHeadEnd.lowerBound].lowercased()
            #expect(old.hasPrefix("HTTP/1.0 200 "), "\(old)")
            #expect(!oldHead.contains("transfer-encoding"), "\(old)")
            #expect(oldHead.contains("connection: close"), "\(old)")
            #expect(old[oldHeadEnd.upperBound...] == "hello world")

            // 204 and 304: the head alone (no length, no chunks), then the next response on the connection.
            for code in [204, 304] {
                let empty = try #require(try await TestClient.sendRaw(port: port,
                    "GET /status/\(code) HTTP/1.1\r\nHost: chat.meridian\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: chat.meridian\r\nConnection: close\r\n\r\n"))
                let emptyEnd = try #require(empty.range(of: "\r\n\r\n"))
                let emptyHead = empty[..<emptyEnd.lowerBound].lowercased()
                #expect(empty.hasPrefix("HTTP/1.1 \(code) "), "\(empty)")
                #expect(!emptyHead.contains("transfer-encoding") && !emptyHead.contains("content-length"), "\(empty)")
                #expect(emptyHead.contains("etag: \"v1\""), "\(empty)")
                #expect(empty[emptyEnd.upperBound...].hasPrefix("HTTP/1.1 200 "), "after the \(code): \(empty[emptyEnd.upperBound...].prefix(40))")
            }

            // Expect: 100-continue: an HTTP/1.1 client is told to go on before the final response; an HTTP/1.0 client
            // is not (RFC 9110 10.1.1).
            let continued = try #require(try await TestClient.sendRaw(port: port,
                "POST /upload HTTP/1.1\r\nHost: chat.meridian\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"))
            #expect(continued.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 "), "\(continued)")
            #expect(continued.hasSuffix("received 5"), "\(continued)")
            let continuedOld = try #require(try await TestClient.sendRaw(port: port,
                "POST /upload HTTP/1.0\r\nHost: chat.meridian\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"))
            #expect(continuedOld.hasPrefix("HTTP/1.0 200 "), "\(continuedOld)")
            #expect(continuedOld.hasSuffix("received 5"), "\(continuedOld)")
            // A request the gateway refuses is answered with the refusal, not told to send its body first.
            let refusedContinue = try #require(try await TestClient.sendRaw(port: port,
                "POST /upload HTTP/1.1\r\nHost: chat.meridian\r\nmeridian-data-class: secret\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"))
            #expect(refusedContinue.hasPrefix("HTTP/1.1 400 "), "\(refusedContinue)")
        }
    }

    @Test("an idle keep-alive client connection is closed after the idle timeout, one answering a slow stream is not")
    func idleClientConnectionCloses() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream, configure: { $0.idleTimeout = .milliseconds(300) }) { mesh in
            let port = mesh.port("east")
            // How long after its response the gateway closed the connection; nil when it was still open after 5 s.
            async let idle: Duration? = {
                let connection = try await TestClient.connect(port: port)
                return try await connection.executeThenClose { inbound, outbound in
                    try await outbound.write(contentsOf: [.head(TestClient.head(.GET, "/once", host: "chat.meridian", headers: [])), .end(nil)])
                    return try await TestClient.within(.seconds(5)) { () -> Duration? in
                        var answered: ContinuousClock.Instant?
                        for try await part in inbound {
                            if case .end = part { answered = .now }
                        }
                        return answered.map { ContinuousClock.now - $0 }
                    } ?? nil
                }
            }()
            // An SSE response held for 900 ms (three idle timeouts) by the model server: its connection stays.
            let connection = try await TestClient.connect(port: port)
            let events = try await connection.executeThenClose { inbound, outbound in
                try await outbound.write(contentsOf: [.head(TestClient.head(.POST, "/sse", host: "chat.meridian", headers: [("content-length", "0")])), .end(nil)])
                var received = ""
                var released = false
                for try await part in inbound {
                    switch part {
                    case .body(let buffer):
                        received += String(buffer: buffer)
                        if !released && received.contains("data: first") {
                            released = true
                            try await Task.sleep(for: .milliseconds(900))
                            upstream.releaseStream()
                        }
                    case .end: return received
                    case .head: break
                    }
                }
                return received
            }
            #expect(events.contains("data: last"))
            let closedAfter = try #require(try await idle, "the idle connection was still open 5 s after its response")
            #expect(closedAfter >= .milliseconds(250), "closed \(closedAfter) after its response, before the idle timeout")
        }
    }

    @Test("an h2c client connection with no stream is closed after the idle timeout, after a GOAWAY naming its last stream; one with a stream held open is not")
    func idleH2CConnectionCloses() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream, configure: { $0.idleTimeout = .milliseconds(300) }) { mesh in
            let port = mesh.port("east")
            let closedAt = Locked<ContinuousClock.Instant?>(nil)
            let goAway = Locked<HTTP2StreamID?>(nil)
            let answeredAt = try await TestH2CClient.withConnection(port: port, closed: { future in
                future.whenComplete { _ in closedAt.withLock { $0 = .now } }
            }, rootFrame: { frame in
                if case .goAway(let lastStreamID, _, _) = frame.payload { goAway.withLock { $0 = lastStreamID } }
            }) { openStream in
                // A stream held by the model server for 900 ms (three idle timeouts): the connection stays.
                let held = try await openStream()
                let events = try await held.executeThenClose { inbound, outbound in
                    var head = TestClient.head(.POST, "/sse", host: "chat.meridian", headers: [("content-length", "0")])
                    head.version = .http2
                    try await outbound.write(contentsOf: [.head(head), .end(nil)])
                    var received = ""
                    var released = false
                    for try await part in inbound {
                        guard case .body(let buffer) = part else { continue }
                        received += String(buffer: buffer)
                        if !released && received.contains("data: first") {
                            released = true
                            try await Task.sleep(for: .milliseconds(900))
                            upstream.releaseStream()
                        }
                    }
                    return received
                }
                #expect(events.contains("data: last"), "the stream was cut: \(events)")
                #expect(closedAt.value == nil, "closed while a stream was open")
                let answered = ContinuousClock.now
                // No stream now: closed between one and one and a half idle timeouts later (the sweep's period).
                for _ in 0..<100 where closedAt.value == nil { try await Task.sleep(for: .milliseconds(50)) }
                return answered
            }
            let closed = try #require(closedAt.value, "the idle h2c connection was still open 5 s after its last stream")
            #expect(goAway.value == 1, "no GOAWAY naming the one stream served before the close: \(String(describing: goAway.value))")
            // 150 ms rather than 300: the client notes its last answer after the gateway does.
            #expect(closed - answeredAt >= .milliseconds(150), "closed \(closed - answeredAt) after its last stream, before the idle timeout")
        }
    }

    @Test("a request HTTP/1.1 cannot carry to the endpoint is the client's error: a target with {|} is percent-encoded and served; a control character in a field is answered 400 naming it, again and again, without ejecting the endpoint")
    func unsendableRequestsAreTheClientsError() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream) { mesh in
            let port = mesh.port("east")
            let raw = try #require(try await TestClient.sendRaw(port: port,
                "GET /search?q={a}|b HTTP/1.1\r\nHost: chat.meridian\r\nConnection: close\r\n\r\n"))
            #expect(raw.hasPrefix("HTTP/1.1 200 "), "\(raw.prefix(200))")
            #expect(raw.contains(#""path":"\/search?q=%7Ba%7D%7Cb""#), "\(raw)")
            // From an h2c client (HTTP/2 allows the byte; HTTP/1.1 does not): more refusals than it takes to eject.
            try await TestH2CClient.withConnection(port: port) { openStream in
                for _ in 0..<8 {
                    let stream = try await openStream()
                    var head = TestClient.head(.GET, "/v1/models", host: "chat.meridian", headers: [("x-note", "a\u{1}b")])
                    head.version = .http2
                    let response = try await stream.executeThenClose { inbound, outbound in
                        try await outbound.write(contentsOf: [.head(head), .end(nil)])
                        return try await TestClient.collect(inbound)
                    }
                    #expect(response.status == 400)
                    #expect(response.body.contains(#""field":"x-note""#), "\(response.body)")
                }
            }
            let after = try await TestClient.send(port: port, .GET, "/v1/models")
            #expect(after.status == 200, "the endpoint was ejected for the clients' errors: \(after.body)")
            #expect(!upstream.requests.value.contains { $0.headers.contains(name: "x-note") }, "a refused request reached the model server")
        }
    }

    @Test("accepted connections have Nagle off (TCP_NODELAY, inherited from the listening socket), on the local and the tunnel listeners")
    func acceptedConnectionsHaveNagleOff() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream) { mesh in
            let connection = try await TestClient.connect(port: mesh.port("east"))
            let clientPort = try #require(connection.channel.localAddress?.port)
            // A request through the pair: east is connected to west's tunnel listener.
            let response = try await TestClient.send(port: mesh.port("east"), .GET, "/v1/models")
            #expect(response.status == 200)
            // The gateways run in this process: find the sockets they accepted among its descriptors.
            let tunnelPort = try #require(Int(mesh.tunnel("west").split(separator: ":").last ?? ""))
            let local = Self.acceptedSockets(localPort: mesh.port("east")).filter { $0.peerPort == clientPort }
            let tunnel = Self.acceptedSockets(localPort: tunnelPort)
            #expect(local.count == 1, "the client's connection at east: \(local)")
            #expect(!tunnel.isEmpty, "east's connection at west's tunnel listener")
            for socket in local + tunnel { #expect(socket.noDelay, "Nagle is on for \(socket)") }
            try await connection.channel.close()
        }
    }

    /// The connected TCP sockets of this process whose local port is `localPort`, with their peer's port and whether
    /// TCP_NODELAY is set.
    static func acceptedSockets(localPort: Int) -> [(descriptor: Int32, peerPort: Int, noDelay: Bool)] {
        func port(_ address: sockaddr_in) -> Int { Int(UInt16(bigEndian: address.sin_port)) }
        var found: [(descriptor: Int32, peerPort: Int, noDelay: Bool)] = []
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for descriptor in descriptors.compactMap(Int32.init) {
            var local = sockaddr_in()
            var peer = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let isLocal = withUnsafeMutablePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) == 0 }
            }
            guard isLocal, local.sin_family == sa_family_t(AF_INET), port(local) == localPort else { continue }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let hasPeer = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(descriptor, $0, &length) == 0 }
            }
            guard hasPeer else { continue }   // the listening socket
            var value: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &value, &size) == 0 else { continue }
            found.append((descriptor, port(peer), value != 0))
        }
        return found
    }

    @Test("an SSE stream's first event reaches the client before the model server writes the last")
    func serverSentEventsStream() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream) { mesh in
            let connection = try await TestClient.connect(port: mesh.port("east"))
            let events = try await connection.executeThenClose { inbound, outbound in
                try await outbound.write(.head(TestClient.head(.POST, "/sse", host: "chat.meridian", headers: [("content-length", "0")])))
                try await outbound.write(.end(nil))
                var received = ""
                var released = false
                for try await part in inbound {
                    switch part {
                    case .head(let head):
                        #expect(head.status == .ok)
                        #expect(head.headers.first(name: "content-type") == "text/event-stream")
                    case .body(let buffer):
                        received += String(buffer: buffer)
                        if !released && received.contains("data: first") {
                            // Only now may the model server produce its last event.
                            #expect(!received.contains("data: last"))
                            released = true
                            upstream.releaseStream()
                        }
                    case .end:
                        return received
                    }
                }
                return received
            }
            #expect(events == "data: first\n\ndata: last\n\n")
        }
    }

    @Test("a refused entry is answered 451 by the source gateway, with the decision and a JSON error")
    func refusalAtSource() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream) { mesh in
            let response = try await TestClient.send(port: mesh.port("east"), .GET, "/v1/models", headers: [("meridian-data-class", "eu-only")])
            #expect(response.status == 451)
            #expect(response.headers.first(name: "meridian-decision")?.hasPrefix("refused") == true)
            let error = try #require(response.json?["error"] as? [String: Any])
            #expect(error["code"] as? String == "residency_refused")
            #expect((error["message"] as? String)?.contains("EU") == true)
            #expect(upstream.requests.value.isEmpty, "nothing reached the model server")

            let unknown = try await TestClient.send(port: mesh.port("east"), .GET, "/", host: "localhost")
            #expect(unknown.status == 400)
            let field = (unknown.json?["error"] as? [String: Any])?["field"] as? String
            #expect(field == "meridian-service")

            // East keeps the last local admission's plan for the next request with the same table, service and class
            // (twice each: its connections take turns between two event loops); a new table is decided again.
            for _ in 0..<2 { #expect(try await TestClient.send(port: mesh.port("east"), .GET, "/v1/models").status == 200) }
            var closed = TestTables.table(source: "east", address: mesh.tunnel("east"), peers: ["west": mesh.tunnel("west")], levels: [[("west", 1)]])
            closed.entries = closed.entries.map { entry in
                var entry = entry
                if entry.dataClass == "public" { entry.refusal = RouteRefusal(status: 503, reason: "chat is closed for maintenance") }
                return entry
            }
            closed.version = 2
            closed.hash = closed.contentHash()
            try await mesh.gateways["east"]!.apply(closed)
            for _ in 0..<2 {
                let refused = try await TestClient.send(port: mesh.port("east"), .GET, "/v1/models")
                #expect(refused.status == 503 && refused.body.contains("maintenance"), "\(refused.status) \(refused.body.prefix(200))")
            }
        }
    }

    @Test("the destination refuses a forged request: 451 for a class its jurisdiction may not process, 403 for a caller policy does not allow")
    func enforcementAtDestination() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream) { mesh in
            let pki = mesh.pki
            let bundle = try String(contentsOfFile: pki.path("trust-bundle.pem"), encoding: .utf8)
            let westTunnel = mesh.addresses["west"]!.tunnelPort
            func call(as cluster: String, dataClass: String) async throws -> TestResponse {
                try await TunnelTestClient.send(
                    port: westTunnel, chainPEM: try String(contentsOfFile: pki.path("\(cluster).pem"), encoding: .utf8),
                    keyPEM: try String(contentsOfFile: pki.path("\(cluster)-key.pem"), encoding: .utf8), trustBundlePEM: bundle,
                    expectedCluster: "west", path: "/v1/models",
                    headers: [("meridian-service", "chat"), ("meridian-data-class", dataClass), ("meridian-source-cluster", "west")])
            }
            // east skips its own 451 and sends an EU-only request straight to the US gateway.
            let forged = try await call(as: "east", dataClass: "eu-only")
            #expect(forged.status == 451)
            #expect((forged.json?["error"] as? [String: Any])?["code"] as? String == "residency_refused")
            // north has a valid mesh certificate, but policy does not let it call chat.
            let north = try await call(as: "north", dataClass: "public")
            #expect(north.status == 403)
            #expect((north.json?["error"] as? [String: Any])?["code"] as? String == "caller_not_allowed")
            #expect(upstream.requests.value.isEmpty)
            // The same call as east with a permitted class goes through, and the source header is the verified one.
            let allowed = try await call(as: "east", dataClass: "public")
            #expect(allowed.status == 200)
            let headers = allowed.json?["headers"] as? [String: String]
            #expect(headers?["meridian-source-cluster"] == "east")
            // West keeps the last admission's plan for the next request like it (same table, caller, service and
            // class): another class, another caller, or a new table is decided again.
            #expect(try await call(as: "east", dataClass: "eu-only").status == 451)
            #expect(try await call(as: "east", dataClass: "public").status == 200)
            #expect(try await call(as: "north", dataClass: "public").status == 403)
            // (Twice each: west's connections take turns between its two event loops, each with its own plan kept.)
            #expect(try await call(as: "east", dataClass: "public").status == 200)
            #expect(try await call(as: "east", dataClass: "public").status == 200)
            var tightened = TestTables.table(source: "west", address: mesh.tunnel("west"), peers: ["east": mesh.tunnel("east"), "north": "127.0.0.1:9"],
                                             levels: [[("west", 1)]])
            tightened.policy.services["chat"] = ServicePolicy(defaultClass: "public", allowedCallers: ["west", "south"])
            tightened.version = 2
            tightened.hash = tightened.contentHash()
            try await mesh.gateways["west"]!.apply(tightened)
            for _ in 0..<2 {
                let revoked = try await call(as: "east", dataClass: "public")
                #expect(revoked.status == 403, "east may no longer call chat under the new table")
                #expect((revoked.json?["error"] as? [String: Any])?["code"] as? String == "caller_not_allowed")
            }
        }
    }

    @Test("a tunnel request whose body does not add up to its content-length is reset, and no byte past the length reaches the model server")
    func tunnelBodyMustMatchItsLength() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream, configure: { $0.metricsPort = 0 }) { mesh in
            let pki = mesh.pki
            let bundle = try String(contentsOfFile: pki.path("trust-bundle.pem"), encoding: .utf8)
            let chain = try String(contentsOfFile: pki.path("east.pem"), encoding: .utf8)
            let key = try String(contentsOfFile: pki.path("east-key.pem"), encoding: .utf8)
            let westTunnel = mesh.addresses["west"]!.tunnelPort
            func upload(declaring length: Int, body: String) async throws -> TestResponse {
                try await TunnelTestClient.send(
                    port: westTunnel, chainPEM: chain, keyPEM: key, trustBundlePEM: bundle, expectedCluster: "west", method: .POST,
                    path: "/upload", headers: [("meridian-service", "chat"), ("meridian-data-class", "public"), ("content-length", String(length))],
                    body: ByteBuffer(string: body))
            }
            /// Whether the stream ended without a response (reset: the client sees an error or no head at all).
            func reset(declaring length: Int, body: String) async -> Bool {
                do { return try await upload(declaring: length, body: body).status == 0 } catch { return true }
            }
            // Relayed to HTTP/1.1 as it stands, the bytes past the length would be a second request no admission saw.
            let smuggling = "hello" + "GET /smuggled HTTP/1.1\r\nhost: chat.meridian\r\n\r\n"
            #expect(await reset(declaring: 5, body: smuggling), "a body longer than its length")
            #expect(await reset(declaring: 50, body: "hello"), "a body shorter than its length")
            let exact = try await upload(declaring: 5, body: "hello")
            #expect(exact.status == 200 && exact.body == "received 5")
            #expect(!upstream.requests.value.contains { $0.uri == "/smuggled" }, "no smuggled request reached the model server")
            #expect(upstream.uploadedBytes.value == 5)
            // Counted as the caller's errors (400), not as callers that went away (499).
            let metrics = try await TestClient.send(port: mesh.addresses["west"]!.metricsPort!, .GET, "/metrics", host: "localhost")
            #expect(metrics.body.contains(#"meridian_gateway_requests_total{source="east",destination="west",service="chat",status="400"} 2"#))
        }
    }

    @Test("an h2c client's content-length that is not a plain decimal number is refused with PROTOCOL_ERROR, so no body can carry a second request")
    func h2cMalformedLengthIsRefused() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream) { mesh in
            // NIO's own check reads an empty value as no length; relayed to HTTP/1.1 as `content-length: `, an endpoint
            // that did the same would read the body as the next request.
            let smuggling = "GET /smuggled HTTP/1.1\r\nhost: chat.meridian\r\n\r\n"
            try await TestH2CClient.withConnection(port: mesh.port("east"), validating: false) { openStream in
                for malformed in ["", "+\(smuggling.utf8.count)", "1, 2"] {
                    let stream = try await openStream()
                    try await stream.executeThenClose { inbound, outbound in
                        try await outbound.write(.head(TestClient.head(.POST, "/upload", host: "chat.meridian", headers: [("content-length", malformed)])))
                        // The stream may be reset before these go out (the head alone is refused).
                        try? await outbound.write(.body(.byteBuffer(ByteBuffer(string: smuggling))))
                        try? await outbound.write(.end(nil))
                        do {
                            for try await part in inbound { Issue.record("content-length '\(malformed)': answered \(part)") }
                            Issue.record("content-length '\(malformed)': the stream ended without a reset")
                        } catch let error as NIOHTTP2Errors.StreamClosed {
                            #expect(error.errorCode == .protocolError, "content-length '\(malformed)'")
                        }
                    }
                }
            }
            #expect(upstream.requests.value.isEmpty, "nothing reached the model server")
        }
    }

    @Test("a 50 MB upload streams through: the model server reads while the client is still sending")
    func largeUploadStreams() async throws {
        let upstream = try await TestUpstream.start(name: "west-model")
        defer { Task { await upstream.stop() } }
        try await Self.eastWest(upstream) { mesh in
            let total = 50 * 1024 * 1024
            let chunk = 64 * 1024
            let connection = try await TestClient.connect(port: mesh.port("east"))
            let (response, finishedSending) = try await connection.executeThenClose { inbound, outbound in
                try await outbound.write(.head(TestClient.head(.PUT, "/upload", host: "chat.meridian", headers: [("content-length", String(total))])))
                let payload = ByteBuffer(repeating: 0x61, count: chunk)
                // 1 MiB first; the rest only once the model server has started receiving. A gateway that stored the
                // body before forwarding it would never let the first byte through, and this would time out.
                for _ in 0..<16 { try await outbound.write(.body(.byteBuffer(payload))) }
                let started = try await eventually(timeout: .seconds(20)) { upstream.firstUploadByte.value != nil }
                #expect(started, "the model server received nothing of the first MiB")
                for _ in 16..<(total / chunk) { try await outbound.write(.body(.byteBuffer(payload))) }
                try await outbound.write(.end(nil))
                let sent = ContinuousClock.now
                return (try await TestClient.collect(inbound), sent)
            }
            #expect(response.status == 200)
            #expect(response.body == "received \(total)")
            #expect(upstream.uploadedBytes.value == total)
            let firstByte = try #require(upstream.firstUploadByte.value)
            #expect(firstByte < finishedSending, "the gateways buffered the body instead of streaming it")
        }
    }
}

/// gRPC shape: h2c client -> east (local listener, h2c prior knowledge) -> mTLS h2 -> west -> h2c model server.
@Suite("Gateway gRPC (h2c) end to end", .serialized, .timeLimit(.minutes(2)))
struct GatewayGRPCTests {
    /// A gRPC-shaped request head for the echo service over h2c, with `field` as its last header.
    static func chatHead(_ field: (String, String) = ("te", "trailers")) -> HTTPRequestHead {
        var head = TestClient.head(.POST, "/meridian.test.Echo/Chat", host: "chat.meridian",
                                   headers: [("content-type", "application/grpc"), field])
        head.version = .http2
        return head
    }

    @Test("a bidirectional h2 stream with trailers passes end to end; responses stream while the request is open; malformed header blocks are reset")
    func grpcStreamWithTrailers() async throws {
        let upstream = try await TestGRPCUpstream.start()
        defer { Task { await upstream.stop() } }
        try await Mesh.run(
            endpoints: ["east": [:], "west": ["chat": ["127.0.0.1:\(upstream.port)"]]],
            tables: { tunnel in
                [
                    "east": TestTables.table(source: "east", address: tunnel["east"]!, peers: ["west": tunnel["west"]!], levels: [[("west", 1)]]),
                    "west": TestTables.table(source: "west", address: tunnel["west"]!, peers: ["east": tunnel["east"]!], levels: [[("west", 1)]]),
                ]
            }
        ) { mesh in
            // A block NIO's own validation would refuse (the gateway validates what local h2c clients send itself):
            // each such stream is reset with PROTOCOL_ERROR and never reaches the model server; the connection
            // goes on serving the next stream.
            try await TestH2CClient.withConnection(port: mesh.port("east"), validating: false) { openStream in
                for bad in [("x-bad", "a\r\nhost: evil"), ("te", "gzip")] {
                    let stream = try await openStream()
                    try await stream.executeThenClose { inbound, outbound in
                        try await outbound.write(.head(Self.chatHead(bad)))
                        do {
                            for try await part in inbound { Issue.record("\(bad.0): answered \(part)") }
                            Issue.record("\(bad.0): the stream ended without a reset")
                        } catch let error as NIOHTTP2Errors.StreamClosed {
                            #expect(error.errorCode == .protocolError, "\(bad.0)")
                        }
                    }
                }
                let stream = try await openStream()
                try await stream.executeThenClose { inbound, outbound in
                    try await outbound.write(.head(Self.chatHead()))
                    try await outbound.write(.end(nil))
                    var status: HTTPResponseStatus?
                    for try await part in inbound { if case .head(let response) = part { status = response.status } }
                    #expect(status == .ok)
                }
            }
            #expect(upstream.requests.value.count == 1)
            try await TestH2CClient.withConnection(port: mesh.port("east")) { openStream in
                for round in 0..<3 {
                    let stream = try await openStream()
                    try await stream.executeThenClose { inbound, outbound in
                        try await outbound.write(.head(Self.chatHead()))
                        var iterator = inbound.makeAsyncIterator()
                        // Bidirectional: each message's echo arrives before the next is sent.
                        var echoed = 0
                        guard case .head(let response) = try await iterator.next() else {
                            Issue.record("no response head")
                            return
                        }
                        #expect(response.status == .ok)
                        #expect(response.headers.first(name: "content-type") == "application/grpc")
                        for _ in 0..<3 {
                            try await outbound.write(.body(.byteBuffer(ByteBuffer(repeating: 0x61, count: 100))))
                            guard case .body(let echo) = try await iterator.next() else {
                                Issue.record("no echo for a message")
                                return
                            }
                            echoed += echo.readableBytes
                        }
                        try await outbound.write(.end(nil))
                        var trailers: HTTPHeaders?
                        while let part = try await iterator.next() {
                            switch part {
                            case .body(let buffer): echoed += buffer.readableBytes
                            case .end(let end): trailers = end
                            case .head: Issue.record("a second head")
                            }
                        }
                        #expect(echoed == 300, "round \(round)")
                        #expect(trailers?.first(name: "grpc-status") == "0")
                        #expect(trailers?.first(name: "x-echo-bytes") == "300")
                    }
                }
            }
            // Trailers NIO would refuse (a CR LF value) are reset too, after the head went on.
            try await TestH2CClient.withConnection(port: mesh.port("east"), validating: false) { openStream in
                let stream = try await openStream()
                try await stream.executeThenClose { inbound, outbound in
                    try await outbound.write(.head(Self.chatHead()))
                    try await outbound.write(.end(["x-bad": "a\r\nhost: evil"]))
                    do {
                        for try await part in inbound { if case .end = part { Issue.record("trailers: the stream ended cleanly") } }
                        Issue.record("trailers: the stream ended without a reset")
                    } catch let error as NIOHTTP2Errors.StreamClosed {
                        #expect(error.errorCode == .protocolError, "trailers")
                    }
                }
            }
            let seen = upstream.requests.value
            #expect(seen.count == 4 || seen.count == 5, "the trailers case's head may or may not arrive before the reset")
            #expect(seen.allSatisfy { $0.headers.first(name: "x-bad") == nil })
            #expect(seen.first?.headers.first(name: "te") == "trailers")
            #expect(seen.first?.headers.first(name: "meridian-source-cluster") == "east")
        }
    }
}
