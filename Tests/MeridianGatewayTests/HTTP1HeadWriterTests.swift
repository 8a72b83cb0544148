import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import MeridianGateway

/// ``HTTP1HeadWriter`` writes the bytes NIO's encoders write, for every kind of head the gateway sends.
@Suite("HTTP/1 head writer")
struct HTTP1HeadWriterTests {
    static let fieldSets: [[(String, String)]] = [
        [],
        [("content-length", "1024")],
        [("Content-Type", "text/event-stream"), ("cache-control", "no-cache"), ("transfer-encoding", "chunked")],
        [("x-empty", ""), ("x-utf8", "caf\u{e9} \u{1F680}"), ("set-cookie", "a=1"), ("set-cookie", "b=2")],
        [("meridian-decision", String(repeating: "d", count: 3000))],
    ]

    /// What NIO's response encoder writes for `head` (automatic framing off, as the gateway frames itself).
    static func nioResponseBytes(_ head: ResponseHead) throws -> [UInt8] {
        var configuration = HTTPResponseEncoder.Configuration()
        configuration.automaticallySetFramingHeaders = false
        let channel = EmbeddedChannel(handler: HTTPResponseEncoder(configuration: configuration))
        try channel.writeOutbound(HTTPServerResponsePart.head(head.nio))
        return try Self.drain(channel)
    }

    static func nioRequestBytes(_ head: RequestHead) throws -> [UInt8] {
        var configuration = HTTPRequestEncoder.Configuration()
        configuration.automaticallySetFramingHeaders = false
        let channel = EmbeddedChannel(handler: HTTPRequestEncoder(configuration: configuration))
        try channel.writeOutbound(HTTPClientRequestPart.head(head.nio))
        return try Self.drain(channel)
    }

    static func drain(_ channel: EmbeddedChannel) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while let part = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let buffer) = part else { Issue.record("a file region"); continue }
            bytes += buffer.readableBytesView
        }
        _ = try channel.finish()
        return bytes
    }

    @Test("a response head: every status NIO names, unknown codes, 1xx, HTTP/1.0 and 1.1, any fields")
    func responseHeads() throws {
        let statuses: [HTTPResponseStatus] = [.continue, .ok, .noContent, .notModified, .badRequest, .forbidden,
                                              .unavailableForLegalReasons, .requestHeaderFieldsTooLarge, .badGateway,
                                              .gatewayTimeout, .init(statusCode: 299), .init(statusCode: 599),
                                              .init(statusCode: 200, reasonPhrase: "Fine"), .init(statusCode: 418)]
        for version in [HTTPVersion.http1_1, .http1_0] {
            for status in statuses {
                for fields in Self.fieldSets {
                    let head = ResponseHead(version: version, status: status, headers: HeaderFields(fields))
                    let ours = HTTP1HeadWriter.responseHead(head, allocator: ByteBufferAllocator())
                    let expected = try Self.nioResponseBytes(head)
                    #expect(Array(ours.readableBytesView) == expected, "\(version) \(status) \(fields.map(\.0))")
                }
            }
        }
        // A head translated from HTTP/2 keeps that version until the exchange sets the client's: it is written as 1.1.
        let translated = ResponseHead(version: .http2, status: .ok)
        #expect(String(buffer: HTTP1HeadWriter.responseHead(translated, allocator: ByteBufferAllocator())) == "HTTP/1.1 200 OK\r\n\r\n")
    }

    @Test("a request head: standard and other methods, any target, any fields")
    func requestHeads() throws {
        let methods: [HTTPMethod] = [.GET, .POST, .PUT, .HEAD, .DELETE, .OPTIONS, .PATCH, .CONNECT, .RAW(value: "PURGE")]
        let targets = ["/", "/v1/chat/completions?stream=true&x=%20", "*", "example.meridian:443"]
        for version in [HTTPVersion.http1_1, .http1_0] {
            for method in methods {
                for target in targets {
                    for fields in Self.fieldSets {
                        let head = RequestHead(version: version, method: method, uri: target, headers: HeaderFields(fields))
                        let ours = HTTP1HeadWriter.requestHead(head, allocator: ByteBufferAllocator())
                        let expected = try Self.nioRequestBytes(head)
                        #expect(String(decoding: ours.readableBytesView, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
                        #expect(Array(ours.readableBytesView) == expected, "\(version) \(method) \(target)")
                    }
                }
            }
        }
    }

    @Test("a chunk appended after other bytes is the chunk alone, after them: sizes of one to five hex digits")
    func appendedChunk() {
        for count in [1, 15, 16, 255, 256, 4095, 4096, 8192, 65535, 65536] {
            let bytes = ByteBuffer(repeating: UInt8(ascii: "z"), count: count)
            let alone = BodyFraming.chunk(bytes, allocator: ByteBufferAllocator())
            #expect(String(buffer: alone) == String(count, radix: 16) + "\r\n" + String(repeating: "z", count: count) + "\r\n")
            var after = ByteBuffer(string: "HTTP/1.1 200 OK\r\n\r\n")
            BodyFraming.appendChunk(bytes, to: &after)
            #expect(String(buffer: after) == "HTTP/1.1 200 OK\r\n\r\n" + String(buffer: alone), "\(count)")
        }
    }

    @Test("a response head with room reserved is the same bytes, with that room left after it")
    func reservedRoom() {
        let head = ResponseHead(version: .http1_1, status: .ok, headers: HeaderFields([("content-length", "1024"), ("x-a", "b")]))
        let plain = HTTP1HeadWriter.responseHead(head, allocator: ByteBufferAllocator())
        let roomy = HTTP1HeadWriter.responseHead(head, reserving: 1024, allocator: ByteBufferAllocator())
        #expect(plain == roomy)
        #expect(roomy.writableBytes >= 1024)
    }

    @Test("the last chunk, with and without trailers, as NIO's encoder ends a chunked body")
    func lastChunk() throws {
        for trailers in [nil, HeaderFields(), HeaderFields([("grpc-status", "0"), ("grpc-message", "caf\u{e9}")])] {
            let channel = EmbeddedChannel(handler: HTTPResponseEncoder())
            try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
            _ = try channel.readOutbound(as: IOData.self)   // the head
            try channel.writeOutbound(HTTPServerResponsePart.end(trailers?.nio))
            let expected = try Self.drain(channel)
            let ours = HTTP1HeadWriter.lastChunk(trailers: trailers, allocator: ByteBufferAllocator())
            #expect(Array(ours.readableBytesView) == expected, "\(String(describing: trailers))")
        }
    }
}

/// ``HTTP1RequestEncoder`` in place of NIO's `HTTPRequestEncoder`: the same bytes for what the gateway sends, and a
/// framed body where NIO's would have sent it unframed.
@Suite("HTTP/1 request encoder")
struct HTTP1RequestEncoderTests {
    /// The encoder as a handler, as NIO's is, to compare their bytes (the gateway's ``UpstreamHandler`` calls it directly).
    final class EncoderHandler: ChannelOutboundHandler {
        typealias OutboundIn = RequestPart
        typealias OutboundOut = IOData
        var encoder = HTTP1RequestEncoder()

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            do {
                try encoder.encode(unwrapOutboundIn(data), allocator: context.channel.allocator, promise: promise) {
                    context.write(wrapOutboundOut($0), promise: $1)
                }
            } catch {
                promise?.fail(error)
            }
        }

        /// The parts' bytes, or the refusal.
        static func encode(_ parts: [RequestPart]) -> Result<String, UnsendableRequest> {
            var encoder = HTTP1RequestEncoder()
            var bytes = ByteBuffer()
            do {
                for part in parts {
                    try encoder.encode(part, allocator: ByteBufferAllocator(), promise: nil) { data, _ in
                        if case .byteBuffer(var buffer) = data { bytes.writeBuffer(&buffer) }
                    }
                }
            } catch {
                return .failure(error)
            }
            return .success(String(buffer: bytes))
        }
    }

    /// The bytes `encoder` writes for `parts`: ``EncoderHandler`` takes them as they are, NIO's encoder as NIO's parts.
    static func bytes(_ encoder: some ChannelOutboundHandler, _ parts: [RequestPart]) throws -> String {
        let channel = EmbeddedChannel(handler: encoder)
        for part in parts {
            if encoder is EncoderHandler { try channel.writeOutbound(part) } else { try channel.writeOutbound(part.nio) }
        }
        return String(decoding: try HTTP1HeadWriterTests.drain(channel), as: UTF8.self)
    }

    static func request(_ method: HTTPMethod, _ fields: [(String, String)], body: [String] = [], trailers: HeaderFields? = nil) -> [RequestPart] {
        [.head(RequestHead(version: .http1_1, method: method, uri: "/v1/chat", headers: HeaderFields(fields)))]
            + body.map { .body(.byteBuffer(ByteBuffer(string: $0))) } + [.end(trailers)]
    }

    @Test("the same bytes as NIO's encoder: a GET, a POST with a length, a POST without (chunked), chunks with trailers, a PUT, a DELETE")
    func sameAsNIO() throws {
        let requests: [[RequestPart]] = [
            Self.request(.GET, [("host", "chat.meridian"), ("accept", "*/*")]),
            Self.request(.POST, [("host", "chat.meridian"), ("content-length", "11")], body: ["hello", " world"]),
            Self.request(.POST, [("host", "chat.meridian")], body: ["hello", "", " world"]),
            Self.request(.POST, [("transfer-encoding", "chunked")], body: [String(repeating: "x", count: 5000)],
                         trailers: HeaderFields([("grpc-status", "0")])),
            Self.request(.PUT, [("content-length", "0")]),
            Self.request(.DELETE, []),
        ]
        for parts in requests {
            let ours = try Self.bytes(EncoderHandler(), parts)
            let nio = try Self.bytes(HTTPRequestEncoder(), parts)
            #expect(ours == nio)
        }
    }

    @Test("the framing of requests: by length, chunked when named or for POST, PUT and PATCH, none for other methods and TRACE")
    func framingTable() {
        func framing(_ method: HTTPMethod, _ fields: [(String, String)]) -> (BodyFraming, [(String, String)]) {
            var head = RequestHead(version: .http1_1, method: method, uri: "/", headers: HeaderFields(fields))
            let framing = BodyFraming.request(&head)
            return (framing, head.headers.map { ($0.name, $0.value) })
        }
        #expect(framing(.GET, []).0 == .none)
        #expect(framing(.GET, [("content-length", "3")]).0 == .length)
        #expect(framing(.GET, [("Transfer-Encoding", "chunked")]).0 == .chunked)
        for method in [HTTPMethod.POST, .PUT, .PATCH] {
            let (chunked, fields) = framing(method, [])
            #expect(chunked == .chunked && fields.count == 1 && fields[0] == ("transfer-encoding", "chunked"))
        }
        #expect(framing(.OPTIONS, []).0 == .none)
        let (both, bothFields) = framing(.POST, [("content-length", "3"), ("transfer-encoding", "chunked")])
        #expect(both == .chunked && bothFields.count == 1 && bothFields[0].0 == "transfer-encoding", "transfer-encoding wins (RFC 9112 6.3)")
        let (trace, traceFields) = framing(.TRACE, [("content-length", "3"), ("x", "y")])
        #expect(trace == .none && traceFields.count == 1)
    }

    @Test("a transfer-encoding other than exactly 'chunked' is kept and frames the body as chunks (NIO's encoder dropped the other coding, or sent the body unframed)")
    func otherTransferCodings() throws {
        for method in [HTTPMethod.POST, .DELETE] {
            let parts = Self.request(method, [("transfer-encoding", "gzip, chunked")], body: ["abc"])
            let ours = try Self.bytes(EncoderHandler(), parts)
            #expect(ours.hasSuffix("transfer-encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), "\(ours)")
            let nio = try Self.bytes(HTTPRequestEncoder(), parts)
            if method == .POST {
                #expect(nio.contains("transfer-encoding: chunked\r\n"), "NIO's: the gzip coding dropped, the endpoint reads gzip as plain")
            } else {
                #expect(nio.hasSuffix("\r\n\r\nabc"), "NIO's: the body unframed, read by the endpoint as the next request")
            }
        }
    }

    @Test("a body part on a request that has none is not sent; the write's promise succeeds once what came before is written")
    func bodyWithoutFramingIsDropped() throws {
        let channel = EmbeddedChannel(handler: EncoderHandler())
        try channel.writeOutbound(RequestPart.head(RequestHead(version: .http1_1, method: .GET, uri: "/")))
        _ = try channel.readOutbound(as: IOData.self)
        let promise = channel.eventLoop.makePromise(of: Void.self)
        let done = Locked(false)
        promise.futureResult.whenSuccess { done.withLock { $0 = true } }
        channel.write(RequestPart.body(.byteBuffer(ByteBuffer(string: "GET /smuggled HTTP/1.1\r\n\r\n"))), promise: promise)
        #expect(!done.value, "not before the flush")
        channel.flush()
        #expect(done.value)
        #expect(try HTTP1HeadWriterTests.drain(channel).isEmpty, "nothing of the body was written")
    }

    @Test("one encoder, message after message: a chunked POST, then a GET whose end writes no last chunk")
    func framingResetsBetweenMessages() throws {
        let ours = try Self.bytes(EncoderHandler(), Self.request(.POST, [], body: ["abc"]) + Self.request(.GET, []))
        let nio = try Self.bytes(HTTPRequestEncoder(), Self.request(.POST, [], body: ["abc"]) + Self.request(.GET, []))
        #expect(ours == nio)
        #expect(ours.hasSuffix("0\r\n\r\nGET /v1/chat HTTP/1.1\r\n\r\n"), "\(ours)")
    }

    @Test("a method, field name or value NIO's validator refuses is refused, naming the field, and nothing is written; what it accepts is sent")
    func refusesWhatNIOsValidatorRefuses() throws {
        let heads: [(RequestHead, refusedField: String?)] = [
            (RequestHead(version: .http1_1, method: .GET, uri: "/v1/chat?q=a%20b&x=[1]#f", headers: ["host": "chat.meridian", "x-tab": "a\tb", "x-utf8": "café"]), nil),
            (RequestHead(version: .http1_1, method: .RAW(value: "PURGE"), uri: "*", headers: [:]), nil),
            (RequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["x-smuggle": "a\r\nhost: evil"]), "x-smuggle"),
            (RequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["x-lf": "a\nb"]), "x-lf"),
            (RequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["x-nul": "a\u{0}b"]), "x-nul"),
            (RequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["x-bell": "a\u{7}b"]), "x-bell"),
            (RequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["x-del": "a\u{7F}b"]), "x-del"),
            (RequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["bad name": "x"]), "bad name"),
            (RequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["bad:name": "x"]), "bad:name"),
            (RequestHead(version: .http1_1, method: .RAW(value: "GET /x HTTP/1.1\r\n"), uri: "/", headers: [:]), "method"),
        ]
        for (head, refusedField) in heads {
            let nio = EmbeddedChannel(handler: NIOHTTPRequestHeadersValidator())
            let nioAccepts = (try? nio.writeOutbound(HTTPClientRequestPart.head(head.nio))) != nil
            #expect(nioAccepts == (refusedField == nil), "the table disagrees with NIO: \(head)")
            switch EncoderHandler.encode([.head(head)]) {
            case .success(let bytes):
                #expect(refusedField == nil, "sent: \(bytes)")
            case .failure(let refusal):
                #expect(refusal.field == refusedField, "\(refusal)")
            }
            let channel = EmbeddedChannel(handler: EncoderHandler())
            if (try? channel.writeOutbound(RequestPart.head(head))) == nil {
                #expect(try HTTP1HeadWriterTests.drain(channel).isEmpty, "a refused head wrote bytes")
            }
        }
    }

    @Test("a target with bytes RFC 9112 forbids on the request line is percent-encoded, as a browser would (NIO's validator refused it); one with a space or a control character is refused")
    func targets() {
        func line(_ uri: String) -> String? {
            guard case .success(let bytes) = EncoderHandler.encode([.head(RequestHead(version: .http1_1, method: .GET, uri: uri))]) else { return nil }
            return bytes.split(separator: "\r\n").first.map(String.init)
        }
        #expect(line("/v1/chat?q=a%20b&x=[1]#f") == "GET /v1/chat?q=a%20b&x=[1]#f HTTP/1.1")
        #expect(line("/q?x={a}|b^c") == "GET /q?x=%7Ba%7D%7Cb%5Ec HTTP/1.1")
        #expect(line("/\"<>\\`") == "GET /%22%3C%3E%5C%60 HTTP/1.1")
        #expect(line("/é") == "GET /%C3%A9 HTTP/1.1")
        for refused in ["/a b", "/a\r\nx: y", "/a\tb", "/a\u{7F}"] {
            guard case .failure(let refusal) = EncoderHandler.encode([.head(RequestHead(version: .http1_1, method: .GET, uri: refused))]) else {
                Issue.record("sent: \(refused.debugDescription)")
                continue
            }
            #expect(refusal.field == "path")
        }
    }

    @Test("trailers are checked when they are sent (a chunked body), and dropped unchecked otherwise")
    func trailers() {
        let bad: HeaderFields = ["grpc-message": "a\r\nb"]
        let chunked = Self.request(.POST, [("transfer-encoding", "chunked")], body: ["abc"], trailers: bad)
        guard case .failure(let refusal) = EncoderHandler.encode(chunked) else {
            Issue.record("bad trailers were sent")
            return
        }
        #expect(refusal.field == "grpc-message")
        let sized = Self.request(.POST, [("content-length", "3")], body: ["abc"], trailers: bad)
        guard case .success(let bytes) = EncoderHandler.encode(sized) else {
            Issue.record("a body with a length was refused for trailers it does not send")
            return
        }
        #expect(bytes.hasSuffix("\r\n\r\nabc"), "\(bytes)")
    }
}
