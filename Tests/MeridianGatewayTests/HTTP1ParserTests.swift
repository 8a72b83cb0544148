import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import MeridianGateway

/// ``HTTP1Parser`` reads what NIO's `HTTPDecoder` (llhttp) reads, part for part, however the bytes are split, and
/// refuses what would let two parsers disagree on where a message ends.
@Suite("HTTP/1.1 parser")
struct HTTP1ParserTests {
    /// Parts written out for comparison: consecutive body parts joined (a split read splits them differently), and
    /// values without trailing whitespace (not part of a value, RFC 9110 5.5, which NIO's decoder keeps), names in
    /// lowercase (the parser gives common names as lowercase literals).
    static func describe(_ parts: [HTTP1Parser.Part]) -> [String] {
        var lines: [String] = []
        for part in parts {
            switch part {
            case .request(let head):
                lines.append("request \(head.method.rawValue) \(head.uri) \(head.version) \(head.headers.map { "\($0.name.lowercased())=\(Self.trimmed($0.value))" })")
            case .response(let head):
                lines.append("response \(head.version) \(head.status.code) \(head.status.reasonPhrase) \(head.headers.map { "\($0.name.lowercased())=\(Self.trimmed($0.value))" })")
            case .body(let body):
                let text = String(decoding: body.readableBytesView, as: UTF8.self)
                if let last = lines.last, last.hasPrefix("body ") {
                    lines[lines.count - 1] = last + text
                } else {
                    lines.append("body " + text)
                }
            case .end(let trailers):
                lines.append("end \(trailers.map { $0.map { "\($0.name.lowercased())=\($0.value)" } } ?? [])")
            }
        }
        return lines
    }

    static func trimmed(_ value: String) -> String {
        String(value.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }

    /// What NIO's decoder reads from `bytes` (and at the close, for a response), written as ``describe(_:)`` does.
    static func nio(_ bytes: [UInt8], kind: HTTP1Parser.Kind) throws -> [String] {
        let channel = EmbeddedChannel()
        switch kind {
        case .request: try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))
        case .response:
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPResponseDecoder()))
            // It reads a response only after it saw the request go out.
            for _ in 0..<5 { try channel.writeOutbound(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/"))) }
        }
        try channel.writeInbound(ByteBuffer(bytes: bytes))
        _ = try? channel.finish()
        var parts: [HTTP1Parser.Part] = []
        switch kind {
        case .request:
            while let part = try channel.readInbound(as: HTTPServerRequestPart.self) {
                switch part {
                case .head(let head): parts.append(.request(RequestHead(head)))
                case .body(let body): parts.append(.body(body))
                case .end(let trailers): parts.append(.end(trailers.map(HeaderFields.init)))
                }
            }
        case .response:
            while let part = try channel.readInbound(as: HTTPClientResponsePart.self) {
                switch part {
                case .head(let head): parts.append(.response(ResponseHead(version: head.version, status: head.status, headers: HeaderFields(head.headers))))
                case .body(let body): parts.append(.body(body))
                case .end(let trailers): parts.append(.end(trailers.map(HeaderFields.init)))
                }
            }
        }
        return describe(parts)
    }

    /// What ``HTTP1Parser`` reads from `bytes` handed over in pieces of `piece` bytes, then the close.
    static func ours(_ bytes: [UInt8], kind: HTTP1Parser.Kind, piece: Int, methods: [HTTPMethod] = []) throws(HTTPParserError) -> [String] {
        var parser = HTTP1Parser(kind, maxHeadBytes: 8 * 1024)
        var parts: [HTTP1Parser.Part] = []
        var methods = methods[...]
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + piece)
            try parser.parse(ByteBuffer(bytes: bytes[offset..<end]), responseTo: { methods.popFirst() ?? .GET }) { parts.append($0) }
            offset = end
        }
        try parser.finish { parts.append($0) }
        return describe(parts)
    }

    static let requests: [String] = [
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /v1/models?x=1&y=%20 HTTP/1.1\r\nHost: chat.meridian\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n",
        "POST /v1/chat HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nContent-Type: application/json\r\n\r\n{\"a\":\"bcd\"}",
        "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;name=value\r\n world\r\n0\r\nx-sum: 1\r\nx-other:two\r\n\r\n",
        "POST /up HTTP/1.1\r\nhost: a\r\ntransfer-encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "PUT /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: b\r\n\r\nDELETE /c HTTP/1.1\r\nHost: c\r\nContent-Length: 0\r\n\r\n",
        "\r\nGET /after-empty-line HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX-Spaces:   padded value \t \r\nX-Empty:\r\nX-Tab:\tv\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        "PATCH /p HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nokHEAD /h HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /big HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + "1F4\r\n" + String(repeating: "x", count: 500) + "\r\n0\r\n\r\n",
        "GET /caf%C3%A9 HTTP/1.0\r\nHost: a\r\nX-Obs: caf\u{e9}\r\n\r\n",
    ]

    static let responses: [String] = [
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\ngrpc-status: 0\r\n\r\n",
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx",
        "HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\ndata: 2\n\n",
        "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\nHTTP/1.1 200 Fine Thanks\r\nContent-Length: 3\r\n\r\nabc",
        "HTTP/1.1 500 \r\nContent-Length: 4\r\n\r\nfail",
        // A phrase is not kept: a code NIO names gets NIO's own, another none (as NIO's decoder reads them).
        "HTTP/1.1 299 Custom Words\r\nContent-Length: 0\r\n\r\nHTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n",
    ]

    @Test("a method is named from its bytes as NIO names it from its string, case and all")
    func methodsFromBytes() {
        for name in ["GET", "PUT", "POST", "HEAD", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "MKCOL", "PROPFIND",
                     "get", "GETS", "POS", "", "OPTIONZ"] {
            let fromBytes = Array(name.utf8).withUnsafeBytes { HTTPMethod(named: $0) }
            let fromString = HTTPMethod(rawValue: name)
            #expect(fromBytes == fromString && "\(fromBytes)" == "\(fromString)", "\(name): \(fromBytes)")
        }
    }

    @Test("a head whose field lines are the last head's bytes gets the last head's fields and framing; what follows reads as NIO's decoder reads it")
    func repeatedFieldLines() throws {
        let requests = "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" + "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
            + "PUT /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"   // another request line, the same fields
            + "PUT /c HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\n\r\nxyz"   // one byte differs
            + "POST /d HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
            + "POST /d HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
            + "GET /e HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\n\r\nxyz"
        let responses = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDate: 1\r\n\r\nhello" + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDate: 1\r\n\r\nworld"
            + "HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\nDate: 1\r\n\r\nnope!" + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDate: 2\r\n\r\nagain"
        for (text, kind, repeated) in [(requests, HTTP1Parser.Kind.request, 3), (responses, .response, 2)] {
            let bytes = Array(text.utf8)
            let expected = try Self.nio(bytes, kind: kind)
            for piece in [bytes.count, 1, 7] {
                var parser = HTTP1Parser(kind, maxHeadBytes: 8 * 1024)
                var parts: [HTTP1Parser.Part] = []
                var offset = 0
                while offset < bytes.count {
                    let end = min(bytes.count, offset + piece)
                    try parser.parse(ByteBuffer(bytes: bytes[offset..<end])) { parts.append($0) }
                    offset = end
                }
                try parser.finish { parts.append($0) }
                #expect(Self.describe(parts) == expected, "\(kind) in pieces of \(piece)")
                #expect(parser.fieldsRepeated == repeated, "\(kind) in pieces of \(piece)")
            }
        }
    }

    @Test("parsers that share a memo (a worker's client connections) find each other's fields: a new connection's first head too, read as NIO's decoder reads it")
    func sharedMemo() throws {
        let memo = HTTP1FieldsMemo()
        let first = "GET /a HTTP/1.1\r\nHost: a\r\nUser-Agent: wrk\r\n\r\n"
        let chunked = "POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        // Connection after connection, one request each (wrk with `Connection: close`), then one whose framing differs.
        for (index, text) in [first, first, "GET /c HTTP/1.1\r\nHost: a\r\nUser-Agent: wrk\r\n\r\n", chunked, chunked].enumerated() {
            let bytes = Array(text.utf8)
            var parser = HTTP1Parser(.request, maxHeadBytes: 8 * 1024, memo: memo)
            var parts: [HTTP1Parser.Part] = []
            try parser.parse(ByteBuffer(bytes: bytes)) { parts.append($0) }
            try parser.finish { parts.append($0) }
            #expect(Self.describe(parts) == (try Self.nio(bytes, kind: .request)), "connection \(index)")
            #expect(parser.fieldsRepeated == (index == 0 || index == 3 ? 0 : 1), "connection \(index)")
        }
        // A parser with its own memo finds nothing of theirs.
        var alone = HTTP1Parser(.request, maxHeadBytes: 8 * 1024)
        try alone.parse(ByteBuffer(string: first)) { _ in }
        #expect(alone.fieldsRepeated == 0)
    }

    @Test("requests read as NIO's decoder reads them, whole or split anywhere (byte by byte too)", arguments: Array(requests.indices))
    func requestsAsNIO(index: Int) throws {
        let bytes = Array(Self.requests[index].utf8)
        let expected = try Self.nio(bytes, kind: .request)
        #expect(!expected.isEmpty)
        for piece in [bytes.count, 1, 2, 3, 7, 16] {
            let got = try Self.ours(bytes, kind: .request, piece: piece)
            #expect(got == expected, "pieces of \(piece): \(got) against NIO's \(expected)")
        }
    }

    @Test("responses read as NIO's decoder reads them, whole or split anywhere; a body without a length ends with the close",
          arguments: Array(responses.indices))
    func responsesAsNIO(index: Int) throws {
        let bytes = Array(Self.responses[index].utf8)
        let expected = try Self.nio(bytes, kind: .response)
        #expect(!expected.isEmpty)
        for piece in [bytes.count, 1, 2, 5, 13] {
            #expect(try Self.ours(bytes, kind: .response, piece: piece) == expected, "pieces of \(piece)")
        }
    }

    @Test("a response to HEAD has no body, whatever length or coding it names, and the next response follows it")
    func responsesToHEAD() throws {
        let bytes = Array(("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n" + "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
            + "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").utf8)
        for piece in [bytes.count, 1, 4] {
            let parts = try Self.ours(bytes, kind: .response, piece: piece, methods: [.HEAD, .HEAD, .GET])
            #expect(parts.map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
                    == ["response HTTP/1.1", "end []", "response HTTP/1.1", "end []", "response HTTP/1.1", "body ok", "end []"], "\(parts)")
        }
    }

    /// Messages that must be refused, with the error each gets.
    static let refusedRequests: [(String, HTTPParserError)] = [
        ("GET / HTTP/1.1\r\nHost chat.meridian\r\n\r\n", .invalidHeaderToken),                    // no colon
        ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", .invalidHeaderToken),                              // whitespace before the colon
        ("GET / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", .invalidHeaderToken),                     // obs-fold
        ("GET / HTTP/1.1\nHost: a\r\n\r\n", .lfExpected),                                           // bare LF ending the request line
        ("GET / HTTP/1.1\r\nHost: a\n\r\n", .lfExpected),                                           // bare LF ending a field
        ("GET / HTTP/1.1\r\nHost: a\r\n\n", .lfExpected),                                           // bare LF ending the head
        ("GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", .lfExpected),                                       // bare CR in a value
        ("GET / HTTP/1.1\r\nX-A: a\u{1}b\r\n\r\n", .invalidCharactersUsed),                        // a control character
        ("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", .unexpectedContentLength),
        ("POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc", .invalidContentLength),
        ("POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc", .invalidContentLength),
        ("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", .unexpectedContentLength),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", .invalidHeaderToken),     // chunked not last
        ("POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", .invalidHeaderToken),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", .invalidChunkSize),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX\r\n", .invalidChunkSize), // no CR LF after the data
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", .invalidChunkSize),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n", .invalidChunkSize),     // bare LF after the size
        ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", .invalidVersion),
        ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", .invalidURL),
        ("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", .invalidMethod),
        ("NOT HTTP AT ALL\r\n\r\n", .invalidVersion),
        ("GET /caf\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n", .invalidURL),                                // not ASCII
        ("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", .lfExpected),
    ]

    @Test("what could be read two ways is refused, split or whole, and nothing after it is read")
    func refusals() throws {
        for (text, error) in Self.refusedRequests {
            let bytes = Array(text.utf8)
            for piece in [bytes.count, 1] {
                #expect(throws: error, "\(text.debugDescription) in pieces of \(piece)") {
                    try Self.ours(bytes, kind: .request, piece: piece)
                }
            }
        }
        // A refused request then a valid one: nothing more is parsed.
        var parser = HTTP1Parser(.request, maxHeadBytes: 1024)
        var parts: [HTTP1Parser.Part] = []
        #expect(throws: HTTPParserError.invalidHeaderToken) {
            try parser.parse(ByteBuffer(string: "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n")) { parts.append($0) }
        }
        try parser.parse(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: a\r\n\r\n")) { parts.append($0) }
        #expect(parts.isEmpty)
    }

    @Test("a head larger than the limit is headerOverflow, also when it arrives a byte at a time; a chunk line past its limit is invalidChunkSize")
    func limits() throws {
        let big = "GET / HTTP/1.1\r\nX-Big: " + String(repeating: "a", count: 2_000) + "\r\n\r\n"
        for piece in [big.utf8.count, 1, 100] {
            #expect(throws: HTTPParserError.headerOverflow) {
                var parser = HTTP1Parser(.request, maxHeadBytes: 1_024)
                let bytes = Array(big.utf8)
                var offset = 0
                while offset < bytes.count {
                    try parser.parse(ByteBuffer(bytes: bytes[offset..<min(bytes.count, offset + piece)])) { _ in }
                    offset += piece
                }
            }
        }
        // Just under the limit: read.
        let fits = "GET / HTTP/1.1\r\nX-Big: " + String(repeating: "a", count: 990) + "\r\n\r\n"
        var parser = HTTP1Parser(.request, maxHeadBytes: fits.utf8.count)
        var heads = 0
        try parser.parse(ByteBuffer(string: fits)) { if case .request = $0 { heads += 1 } }
        #expect(heads == 1)
        // A value's trailing whitespace is not part of it.
        try parser.parse(ByteBuffer(string: "GET / HTTP/1.1\r\nX-A: \t v \t \r\n\r\n")) {
            if case .request(let head) = $0 { #expect(head.headers.first(name: "x-a") == "v") }
        }
        // Trailers count against the same limit.
        #expect(throws: HTTPParserError.headerOverflow) {
            var parser = HTTP1Parser(.request, maxHeadBytes: 1_024)
            try parser.parse(ByteBuffer(string: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nx-t: " + String(repeating: "t", count: 2_000) + "\r\n\r\n")) { _ in }
        }
        #expect(throws: HTTPParserError.invalidChunkSize) {
            var parser = HTTP1Parser(.request, maxHeadBytes: 1_024)
            try parser.parse(ByteBuffer(string: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;" + String(repeating: "e", count: 5_000) + "\r\n")) { _ in }
        }
    }

    @Test("a message cut by the close is invalidEOFState; a body that runs until the close ends with it; 101 is refused")
    func closes() throws {
        for cut in ["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
                    "HTTP/1.1 200 OK\r\nContent-"] {
            #expect(throws: HTTPParserError.invalidEOFState, "\(cut.debugDescription)") {
                try Self.ours(Array(cut.utf8), kind: .response, piece: 1_000)
            }
        }
        #expect(try Self.ours(Array("HTTP/1.1 200 OK\r\n\r\nall of it".utf8), kind: .response, piece: 3)
                == ["response HTTP/1.1 200 OK []", "body all of it", "end []"])
        #expect(throws: HTTPParserError.invalidStatus) {
            try Self.ours(Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n".utf8), kind: .response, piece: 100)
        }
        // Between messages the close is clean, also after an empty line some servers send after a body.
        #expect(try Self.ours(Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\r\n".utf8), kind: .response, piece: 100)
                == ["response HTTP/1.1 200 OK [\"content-length=2\"]", "body ok", "end []"])
        #expect(try Self.ours(Array("HTTP/1.1 204 No Content\r\n\r\n".utf8), kind: .response, piece: 100) == ["response HTTP/1.1 204 No Content []", "end []"])
    }

    @Test("whether a connection stays open after a message is what NIO's decoder says, for HTTP/1.0 and 1.1 and any connection tokens")
    func keepsAlive() throws {
        for version in ["1.0", "1.1"] {
            for connection in [nil, "close", "Keep-Alive", "upgrade, close", " CLOSE ", "keep-alive, te", "closed", "x,keep-alive"] {
                let text = "GET / HTTP/\(version)\r\n" + (connection.map { "Connection:\($0)\r\n" } ?? "") + "\r\n"
                let channel = EmbeddedChannel(handler: ByteToMessageHandler(HTTPRequestDecoder()))
                try channel.writeInbound(ByteBuffer(string: text))
                guard case .head(let nio) = try channel.readInbound(as: HTTPServerRequestPart.self) else {
                    Issue.record("NIO read no head from \(text.debugDescription)")
                    continue
                }
                var parser = HTTP1Parser(.request, maxHeadBytes: 1024)
                var ours: RequestHead?
                try parser.parse(ByteBuffer(string: text)) { if case .request(let head) = $0 { ours = head } }
                #expect(ours?.headers.keepsAlive(version: ours!.version) == nio.isKeepAlive, "\(text.debugDescription)")
            }
        }
    }
}
