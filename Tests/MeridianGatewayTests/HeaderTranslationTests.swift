import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import Testing

@testable import MeridianGateway

@Suite("HTTP/2 header translation")
struct HeaderTranslationTests {
    @Test("a request head becomes pseudo-headers then lowercase fields, without host or connection fields")
    func requestToBlock() {
        var headers = HeaderFields()
        headers.add(name: "Host", value: "bench.meridian")
        headers.add(name: "Content-Type", value: "application/grpc")
        headers.add(name: "Transfer-Encoding", value: "chunked")
        headers.add(name: "Connection", value: "keep-alive")
        headers.add(name: "te", value: "trailers")
        headers.add(name: "meridian-source-cluster", value: "east")
        let head = RequestHead(version: .http1_1, method: .POST, uri: "/svc/Method?x=1", headers: headers)
        let block = StreamFrame.Headers(request: head, scheme: "https").block
        #expect(block.map { $0.name } == [":method", ":scheme", ":authority", ":path", "content-type", "te", "meridian-source-cluster"])
        #expect(block.first(name: ":authority") == "bench.meridian")
        #expect(block.first(name: ":path") == "/svc/Method?x=1")
        #expect(block.first(name: ":method") == "POST")
        #expect(block.first(name: "te") == "trailers")
    }

    @Test("received blocks are validated as NIO's headerBlockValidation does, with its errors")
    func blockValidation() throws {
        func block(_ fields: [(String, String)]) -> HeaderFields { HeaderFields(fields) }
        let request = [(":method", "POST"), (":scheme", "http"), (":authority", "chat.meridian"), (":path", "/v1/chat"),
                       ("content-type", "application/json"), ("te", "trailers"), ("x-opaque", "a\tb é")]
        try block(request).validate(as: .request)
        try block([(":method", "CONNECT"), (":authority", "chat.meridian:443")]).validate(as: .request)
        try block([(":status", "200"), ("content-type", "text/event-stream")]).validate(as: .response)
        try block([("grpc-status", "0")]).validate(as: .trailers)

        func refused(_ fields: [(String, String)], as kind: HeaderFields.BlockKind, _ expected: String,
                     sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                try block(fields).validate(as: kind)
                Issue.record("accepted: \(fields)", sourceLocation: sourceLocation)
            } catch {
                #expect(String(describing: type(of: error)) == expected, "\(fields)", sourceLocation: sourceLocation)
            }
        }
        refused(request + [("X-Upper", "1")], as: .request, "InvalidHTTP2HeaderFieldName")
        refused(request + [("x sp", "1")], as: .request, "InvalidHTTP2HeaderFieldName")
        refused(request + [("", "1")], as: .request, "InvalidHTTP2HeaderFieldName")
        refused(request + [("connection", "keep-alive")], as: .request, "ForbiddenHeaderField")
        refused(request + [("transfer-encoding", "chunked")], as: .response, "ForbiddenHeaderField")
        refused(request.filter { $0.0 != "te" } + [("te", "gzip")], as: .request, "ForbiddenHeaderField")
        refused(request + [("x-smuggle", "a\r\nhost: evil")], as: .request, "InvalidHTTP2HeaderFieldValue")
        refused(request + [("x-nul", "a\u{0}")], as: .request, "InvalidHTTP2HeaderFieldValue")
        refused(request + [(":method", "GET")], as: .request, "PseudoHeaderAfterRegularHeader")
        refused([(":method", "GET"), (":method", "GET"), (":scheme", "http"), (":path", "/")], as: .request, "DuplicatePseudoHeader")
        refused([(":method", "GET"), (":scheme", "http"), (":path", "/"), (":weird", "1")], as: .request, "UnknownPseudoHeader")
        refused([(":method", "GET"), (":scheme", "http"), (":path", "/"), (":protocol", "websocket")], as: .request, "UnsupportedPseudoHeader")
        refused([(":method", "GET"), (":scheme", "http"), (":path", "")], as: .request, "EmptyPathHeader")
        refused([(":method", "GET"), (":scheme", "http"), (":path", "/a b")], as: .request, "InvalidPseudoHeaderValue")
        refused([(":method", "GET"), (":scheme", "http")], as: .request, "InvalidPseudoHeaders")
        refused([(":method", "GET"), (":scheme", "http"), (":path", "/"), (":status", "200")], as: .request, "InvalidPseudoHeaders")
        refused([("content-type", "text/plain")], as: .response, "InvalidPseudoHeaders")
        refused([(":status", "200")], as: .trailers, "InvalidPseudoHeaders")
    }

    @Test("a header block becomes a request head as NIO's server codec builds it")
    func blockToRequest() throws {
        let get = try RequestHead.proxying([":method": "GET", ":scheme": "https", ":authority": "a.meridian", ":path": "/x", "accept": "*/*"],
                                      endStream: true).head
        #expect(get.method == .GET && get.uri == "/x" && get.version == .http2)
        #expect(Array(get.headers.map { $0.name }) == ["host", "accept"])
        let post = try RequestHead.proxying([":method": "POST", ":scheme": "https", ":authority": "a", ":path": "/"], endStream: false).head
        #expect(post.headers.first(name: "transfer-encoding") == "chunked")
        let empty = try RequestHead.proxying([":method": "POST", ":scheme": "https", ":authority": "a", ":path": "/"], endStream: true).head
        #expect(empty.headers.first(name: "content-length") == "0")
        let listed = try RequestHead.proxying([":method": "PUT", ":scheme": "https", ":path": "/", "content-length": "05, 5", "x-a": "1", "Content-Length": "5"],
                                                  endStream: false)
        #expect(listed.contentLength == 5)
        #expect(listed.head.headers.map { "\($0.name): \($0.value)" } == ["content-length: 5", "x-a: 1"],
                "the one length checked, in decimal, where the block's first content-length was")
        // A length that is its decimal already is kept as it is; any other spelling of it is written in decimal.
        for (spelled, kept) in [("5", "5"), ("05", "5"), (" 5 ", "5"), ("1024", "1024"), ("0", "0"), ("00", "0"), ("1024,1024", "1024")] {
            let head = try RequestHead.proxying([":method": "PUT", ":scheme": "https", ":path": "/", "content-length": spelled], endStream: false).head
            #expect(head.headers.map { "\($0.name): \($0.value)" } == ["content-length: \(kept)"], "\(spelled)")
        }
        func isDecimal(_ value: Int, _ text: String) -> Bool { text.withUTF8Bytes { DeclaredLength.Relay.isDecimal(value, $0) } }
        #expect(isDecimal(1024, "1024") && !isDecimal(1024, "01024") && !isDecimal(0, "00") && isDecimal(0, "0") && !isDecimal(12, "21")
                && !isDecimal(5, "") && !isDecimal(5, "5 ") && isDecimal(Int.max, String(Int.max)))
        let sized = try RequestHead.proxying([":method": "PUT", ":scheme": "https", ":path": "/", "content-length": "5"], endStream: false).head
        #expect(sized.headers.first(name: "content-length") == "5" && !sized.headers.contains(name: "transfer-encoding"))
        #expect(!sized.headers.contains(name: "host"))
        // A GET whose block does not end the stream carries a body: framed, or an HTTP/1.1 endpoint would read the
        // body as the next request.
        let getWithBody = try RequestHead.proxying([":method": "GET", ":scheme": "http", ":path": "/"], endStream: false).head
        #expect(getWithBody.headers.first(name: "transfer-encoding") == "chunked")
        let bodilessGet = try RequestHead.proxying([":method": "GET", ":scheme": "http", ":path": "/"], endStream: true).head
        #expect(!bodilessGet.headers.contains(name: "transfer-encoding") && !bodilessGet.headers.contains(name: "content-length"))
        #expect(throws: (any Error).self) { try RequestHead.proxying([":path": "/"], endStream: true).head }
    }

    @Test("responses: status, fields, framing added only where a body may follow")
    func responses() throws {
        var headers = HeaderFields()
        headers.add(name: "Content-Type", value: "text/plain")
        headers.add(name: "Connection", value: "close")
        let block = StreamFrame.Headers(response: ResponseHead(version: .http1_1, status: .notFound, headers: headers)).block
        #expect(block.map { $0.name } == [":status", "content-type"])
        #expect(block.first(name: ":status") == "404")
        let streamed = try ResponseHead.proxying([":status": "200", "content-type": "text/event-stream"], requestMethod: .GET, endStream: false).head
        #expect(streamed.status == .ok && streamed.headers.first(name: "transfer-encoding") == "chunked")
        let trailersOnly = try ResponseHead.proxying([":status": "200", "grpc-status": "5"], requestMethod: .POST, endStream: true).head
        #expect(trailersOnly.headers.first(name: "content-length") == "0" && trailersOnly.headers.first(name: "grpc-status") == "5")
        let noContent = try ResponseHead.proxying([":status": "204"], requestMethod: .GET, endStream: true).head
        #expect(noContent.headers.isEmpty)
        let head = try ResponseHead.proxying([":status": "200"], requestMethod: .HEAD, endStream: true).head
        #expect(head.headers.isEmpty)
        #expect(throws: (any Error).self) { try ResponseHead.proxying(["content-type": "x"], requestMethod: .GET, endStream: true).head }
        #expect(StreamFrame.Headers(trailers: ["Grpc-Status": "0", "Connection": "close"]).block.fields.map { [$0.name, $0.value] } == [["grpc-status", "0"]])
    }

    @Test("an upstream stream sends a bodiless request as one HEADERS frame, a body's last DATA frame ends the stream; IDs follow the first writes")
    func upstreamFrames() throws {
        let channel = EmbeddedChannel()
        let mux = HTTP2StreamMux(server: false, targetWindow: 1 << 20, validatesHeaderBlocks: false, inboundStreamInitializer: nil)
        try channel.pipeline.syncOperations.addHandler(mux)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let get = UpstreamHandler(kind: .stream)
        let post = UpstreamHandler(kind: .stream)
        _ = HTTP2StreamUpstream(upstream: get).open(on: mux)
        _ = HTTP2StreamUpstream(upstream: post).open(on: mux)

        // Opened second, written first: it takes the first stream ID, so streams open in increasing order.
        try post.write(.head(RequestHead(version: .http1_1, method: .POST, uri: "/", headers: ["host": "a"])))
        try post.write(.body(.byteBuffer(ByteBuffer(string: "hello"))))
        try post.write(.end(nil))
        post.flush()
        channel.embeddedEventLoop.run()
        guard let first = try channel.readOutbound(as: StreamFrame.self), case .headers(let headers) = first.payload,
              let second = try channel.readOutbound(as: StreamFrame.self), case .data(let data) = second.payload else {
            Issue.record("expected HEADERS then DATA")
            return
        }
        #expect(first.streamID == 1 && second.streamID == 1)
        #expect(!headers.endStream && data.endStream && data.data.readableBytes == 5)
        #expect(try channel.readOutbound(as: StreamFrame.self).map { _ in true } == nil)

        try get.write(.head(RequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["host": "a"])))
        try get.write(.end(nil))
        get.flush()
        channel.embeddedEventLoop.run()
        guard let only = try channel.readOutbound(as: StreamFrame.self), case .headers(let block) = only.payload else {
            Issue.record("expected HEADERS")
            return
        }
        #expect(only.streamID == 3 && block.endStream)
        #expect(try channel.readOutbound(as: StreamFrame.self).map { _ in true } == nil)
        _ = try channel.finish()
    }

    /// Opens a stream for a `method` request on a client-side mux (`validating` its received blocks or not), feeds it
    /// `frames` as the response, and returns the code of the RST_STREAM it sent, if any.
    private static func resetCode(method: HTTPMethod = .GET, validating: Bool = false, _ frames: [HTTP2Frame.FramePayload]) throws -> HTTP2ErrorCode? {
        let channel = EmbeddedChannel()
        let mux = HTTP2StreamMux(server: false, targetWindow: 1 << 20, validatesHeaderBlocks: validating, inboundStreamInitializer: nil)
        try channel.pipeline.syncOperations.addHandler(mux)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let upstream = UpstreamHandler(kind: .stream)
        _ = HTTP2StreamUpstream(upstream: upstream).open(on: mux)
        try upstream.write(.head(RequestHead(version: .http1_1, method: method, uri: "/", headers: ["host": "a"])))
        try upstream.write(.end(nil))
        upstream.flush()
        channel.embeddedEventLoop.run()
        _ = try channel.readOutbound(as: StreamFrame.self)   // the request's HEADERS
        for payload in frames { try channel.writeInbound(HTTP2Frame(streamID: 1, payload: payload)) }
        channel.pipeline.fireChannelReadComplete()
        channel.embeddedEventLoop.run()
        var code: HTTP2ErrorCode?
        while let frame = try channel.readOutbound(as: StreamFrame.self) {
            if case .rstStream(let error) = frame.payload { code = error }
        }
        _ = try? channel.finish()
        return code
    }

    @Test("towards a local h2c endpoint, a malformed response or trailer block resets the stream with PROTOCOL_ERROR; on the tunnel it is not checked")
    func upstreamValidatesReceivedBlocks() throws {
        func resets(validating: Bool, _ blocks: [(HPACKHeaders, Bool)]) throws -> HTTP2ErrorCode? {
            try Self.resetCode(validating: validating, blocks.map { .headers(.init(headers: $0.0, endStream: $0.1)) })
        }
        let ok: HPACKHeaders = [":status": "200", "content-type": "text/plain"]
        #expect(try resets(validating: true, [(ok, false), (["grpc-status": "0"], true)]) == nil)
        #expect(try resets(validating: true, [([":status": "200", "x-bad": "a\r\nset-cookie: x"], false)]) == .protocolError)
        #expect(try resets(validating: true, [([":status": "100"], false), (["content-type": "text/plain"], false)]) == .protocolError,
                "a final response without :status after an informational one")
        #expect(try resets(validating: true, [(ok, false), ([":status": "200"], true)]) == .protocolError, "a pseudo-header in trailers")
        #expect(try resets(validating: true, [(ok, false), (["Grpc-Status": "0"], true)]) == .protocolError, "an uppercase trailer name")
        #expect(try resets(validating: false, [([":status": "200", "x-bad": "a\r\nset-cookie: x"], false)]) == nil,
                "the tunnel's blocks were validated where they entered the mesh")
    }

    @Test("a response whose DATA does not add up to its content-length, or whose length is malformed, resets the stream with PROTOCOL_ERROR")
    func upstreamChecksDeclaredLength() throws {
        func resets(method: HTTPMethod = .GET, _ block: HPACKHeaders, data: [String], endOnHeaders: Bool = false) throws -> HTTP2ErrorCode? {
            var frames: [HTTP2Frame.FramePayload] = [.headers(.init(headers: block, endStream: endOnHeaders))]
            for (index, chunk) in data.enumerated() {
                frames.append(.data(.init(data: .byteBuffer(ByteBuffer(string: chunk)), endStream: index == data.count - 1)))
            }
            return try Self.resetCode(method: method, frames)
        }
        let five: HPACKHeaders = [":status": "200", "content-length": "5"]
        #expect(try resets(five, data: ["hel", "lo"]) == nil)
        #expect(try resets(five, data: ["hello", "!"]) == .protocolError, "longer than declared")
        #expect(try resets(five, data: ["hell"]) == .protocolError, "shorter than declared")
        #expect(try resets(five, data: [], endOnHeaders: true) == .protocolError, "no body at all")
        #expect(try resets([":status": "200", "content-length": "5, 5"], data: ["hello"]) == nil, "a list of equal values")
        #expect(try resets([":status": "200", "content-length": "5", "Content-Length": "6"], data: ["hello"]) == .protocolError, "values that differ")
        for malformed in ["five", "-5", "+5", "", " ", "5,", "5 5", "99999999999999999999"] {
            #expect(try resets([":status": "200", "content-length": malformed], data: ["hello"]) == .protocolError, "content-length: '\(malformed)'")
        }
        #expect(try resets([":status": "200", "content-length": " 05 "], data: ["hello"]) == nil, "whitespace around, a leading zero")
        #expect(try resets([":status": "200"], data: ["any", "length"]) == nil, "no length declared")
        #expect(try resets(method: .HEAD, [":status": "200", "content-length": "1024"], data: [], endOnHeaders: true) == nil,
                "a response to HEAD names the GET's length and carries no body")
        #expect(try resets([":status": "304", "content-length": "1024"], data: [], endOnHeaders: true) == nil)
        #expect(try resets(method: .HEAD, [":status": "200", "content-length": "3"], data: ["abc"]) == .protocolError, "a body in a response to HEAD")
    }
}
