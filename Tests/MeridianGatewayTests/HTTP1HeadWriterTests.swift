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
    static func nioResponseBytes(_ head: HTTPResponseHead) throws -> [UInt8] {
        var configuration = HTTPResponseEncoder.Configuration()
        configuration.automaticallySetFramingHeaders = false
        let channel = EmbeddedChannel(handler: HTTPResponseEncoder(configuration: configuration))
        try channel.writeOutbound(HTTPServerResponsePart.head(head))
        return try Self.drain(channel)
    }

    static func nioRequestBytes(_ head: HTTPRequestHead) throws -> [UInt8] {
        var configuration = HTTPRequestEncoder.Configuration()
        configuration.automaticallySetFramingHeaders = false
        let channel = EmbeddedChannel(handler: HTTPRequestEncoder(configuration: configuration))
        try channel.writeOutbound(HTTPClientRequestPart.head(head))
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
                    let head = HTTPResponseHead(version: version, status: status, headers: HTTPHeaders(fields))
                    let ours = HTTP1HeadWriter.responseHead(head, allocator: ByteBufferAllocator())
                    let expected = try Self.nioResponseBytes(head)
                    #expect(Array(ours.readableBytesView) == expected, "\(version) \(status) \(fields.map(\.0))")
                }
            }
        }
        // A head translated from HTTP/2 keeps that version until the exchange sets the client's: it is written as 1.1.
        let translated = HTTPResponseHead(version: .http2, status: .ok)
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
                        let head = HTTPRequestHead(version: version, method: method, uri: target, headers: HTTPHeaders(fields))
                        let ours = HTTP1HeadWriter.requestHead(head, allocator: ByteBufferAllocator())
                        let expected = try Self.nioRequestBytes(head)
                        #expect(String(decoding: ours.readableBytesView, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
                        #expect(Array(ours.readableBytesView) == expected, "\(version) \(method) \(target)")
                    }
                }
            }
        }
    }

    @Test("the last chunk, with and without trailers, as NIO's encoder ends a chunked body")
    func lastChunk() throws {
        for trailers in [nil, HTTPHeaders(), HTTPHeaders([("grpc-status", "0"), ("grpc-message", "caf\u{e9}")])] {
            let channel = EmbeddedChannel(handler: HTTPResponseEncoder())
            try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
            _ = try channel.readOutbound(as: IOData.self)   // the head
            try channel.writeOutbound(HTTPServerResponsePart.end(trailers))
            let expected = try Self.drain(channel)
            let ours = HTTP1HeadWriter.lastChunk(trailers: trailers, allocator: ByteBufferAllocator())
            #expect(Array(ours.readableBytesView) == expected, "\(String(describing: trailers))")
        }
    }
}
