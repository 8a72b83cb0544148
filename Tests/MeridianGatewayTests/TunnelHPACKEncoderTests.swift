import NIOCore
import NIOHPACK
import NIOHTTP1
import Testing

@testable import MeridianGateway

/// ``TunnelHPACKEncoder``'s blocks, read by NIOHPACK's decoder (what a peer gateway of any version runs).
@Suite("Tunnel HPACK encoder")
struct TunnelHPACKEncoderTests {
    /// Encodes each block, decodes it with a separate decoder (keeping both tables across blocks), and checks that
    /// every block comes back as it was, fields and order.
    /// `tableLimits`: the peer's table limits set before a block (several: each in turn), and after each change the
    /// block must start with a size update (RFC 7541 section 6.3; two when the limit fell and rose again).
    static func roundTrip(_ blocks: [HPACKHeaders], tableLimits: [Int: [Int]] = [:]) throws -> [Int] {
        var encoder = TunnelHPACKEncoder()
        return try roundTrip(blocks, tableLimits: tableLimits, encoder: &encoder)
    }

    static func roundTrip(_ blocks: [HPACKHeaders], tableLimits: [Int: [Int]] = [:], encoder: inout TunnelHPACKEncoder) throws -> [Int] {
        var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
        var ours = TunnelHPACKDecoder(maxHeaderListSize: 1 << 20)
        var sizes: [Int] = []
        for (index, block) in blocks.enumerated() {
            let sizeBefore = encoder.maxSize
            for limit in tableLimits[index] ?? [] { encoder.setTableSizeLimit(limit) }
            var buffer = ByteBuffer()
            encoder.encode(HeaderFields(block.map { ($0.name, $0.value) }), to: &buffer)
            if let limits = tableLimits[index] {
                let final = min(limits.last!, TunnelHPACKEncoder.defaultTableSize)
                let smallest = min(limits.map { min($0, TunnelHPACKEncoder.defaultTableSize) }.min()!, final)
                let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self)!
                if final != sizeBefore || smallest < final {
                    #expect(first & 0xe0 == 0x20, "block \(index) starts with a size update")
                }
                #expect(encoder.maxSize == final)
            }
            sizes.append(buffer.readableBytes)
            // The tunnel's own decoder reads it as NIOHPACK's does (its table kept across blocks too).
            let oursDecoded = try ours.decode(buffer)
            #expect(oursDecoded.map { [$0.name, $0.value] } == block.map { [$0.name, $0.value] }, "block \(index), TunnelHPACKDecoder")
            let decoded = try decoder.decodeHeaders(from: &buffer)
            #expect(buffer.readableBytes == 0)
            let sent = block.map { [$0.name, $0.value] }
            let received = decoded.map { [$0.name, $0.value] }
            #expect(sent == received, "block \(index)")
        }
        return sizes
    }

    static func request(_ n: Int) -> HPACKHeaders {
        var block: HPACKHeaders = [":method": n % 3 == 0 ? "POST" : "GET", ":scheme": "https", ":authority": "chat.meridian",
                                   ":path": "/v1/chat/\(n % 5)", "user-agent": "client/1.0", "accept": "*/*",
                                   "meridian-source-cluster": "east", "x-request-id": "req-\(n)", "content-length": "\(n * 7)"]
        block.add(name: "traceparent", value: "00-\(String(repeating: "a", count: 32))-\(String(n, radix: 16))-01", indexing: .nonIndexable)
        block.add(name: "authorization", value: "Bearer token-\(n % 2)")
        if n % 10 == 0 { block.add(name: "x-long", value: String(repeating: "z", count: 3000 + n)) }
        return block
    }

    @Test("many blocks with repeated, new, unindexed, credential and oversized fields decode as they were sent; repeats are indexes")
    func roundTripsThroughNIOHPACK() throws {
        let sizes = try Self.roundTrip((0..<400).map(Self.request))
        // A block whose fields all repeat (but for the per-request ones) is much smaller than the first.
        #expect(sizes[1] < sizes[0] / 2, "\(sizes.prefix(3))")
    }

    @Test("a field repeated at the same position is sent from the last block's memo; after the table changed (an insertion, an eviction, an entry larger than the table, a new limit) its new index is sent")
    func blockMemo() throws {
        func block(_ fields: [(String, String)]) -> HPACKHeaders { HPACKHeaders(fields) }
        let steady = block([(":method", "GET"), (":path", "/v1/chat"), ("accept", "*/*"), ("x-tenant", "blue"), ("x-model", "llama")])
        var encoder = TunnelHPACKEncoder()
        _ = try Self.roundTrip([steady, steady, steady], encoder: &encoder)
        // The second block: the static `:method: GET` (the others were inserted by the first, and are found in the
        // table); the third: every field, static and dynamic indexes alike.
        #expect(encoder.memoHits == 1 + 5, "\(encoder.memoHits)")
        // Each of these changes the table before a field the memo holds, at its position: the memo's dynamic
        // indexes no longer hold, and a decoder that followed the table reads every block as it was sent.
        let inserting = block([(":method", "GET"), ("x-new", "1"), ("accept", "*/*"), ("x-tenant", "blue"), ("x-model", "llama")])
        let huge = block([(":method", "GET"), ("x-huge-" + String(repeating: "n", count: 300), "v"), ("accept", "*/*"), ("x-tenant", "blue"), ("x-model", "llama")])
        let filling = (0..<40).map { block([(":method", "GET"), ("x-fill-\($0)", String(repeating: "f", count: 100)), ("accept", "*/*"), ("x-tenant", "blue"), ("x-model", "llama")]) }
        // (Under a 256-byte limit from the sixth block, `huge` is larger than the table: it empties it, inserting
        // nothing, while the fields after it are the memo's.)
        let blocks = [steady, steady, inserting, steady, inserting, steady, steady, huge, steady, steady] + filling + [steady, steady, steady]
        var changing = TunnelHPACKEncoder()
        _ = try Self.roundTrip(blocks, tableLimits: [5: [256], 9: [4096]], encoder: &changing)
        #expect(changing.memoHits > 10, "\(changing.memoHits)")
    }

    @Test("a head written from its HTTP/1-style fields is the block its translation makes: pseudo-header fields, names lowercased, connection-specific fields and host left out")
    func headsTranslatedAsWritten() throws {
        let requestFields: [[(String, String)]] = [
            [("Host", "chat.meridian:15001"), ("User-Agent", "curl/8"), ("Accept", "*/*"), ("Connection", "keep-alive"), ("X-Mixed-Case", "Value")],
            // No host: no :authority. Uppercase only past the first eight bytes, or only in their last.
            [("accept", "*/*"), ("TE", "trailers"), ("Keep-Alive", "timeout=5"), ("x-lower-tailX", "1"), ("abcdefgH", "2"), ("traceparent", "00-a-b-01")],
            [("HOST", "a"), ("host", "b"), ("Content-Length", "3"), ("Transfer-Encoding", "chunked"), ("Upgrade", "h2c")],
        ]
        let responseFields: [[(String, String)]] = [
            [("Server", "nginx"), ("Date", "now"), ("Content-Type", "text/html"), ("Content-Length", "1024"), ("Connection", "keep-alive"), ("ETag", "\"x\"")],
            [("grpc-status", "0"), ("Proxy-Connection", "close")],
            [],
        ]
        var encoder = TunnelHPACKEncoder()
        var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
        var ours = TunnelHPACKDecoder(maxHeaderListSize: 1 << 20)
        // Twice over, so that the second round is written from the memo.
        for round in 0..<2 {
            var heads: [StreamFrame.Headers] = []
            for (index, fields) in requestFields.enumerated() {
                let method: HTTPMethod = [.GET, .POST, .RAW(value: "PURGE")][index]
                heads.append(StreamFrame.Headers(request: RequestHead(version: .http1_1, method: method, uri: "/v1/\(index)?q=1", headers: HeaderFields(fields)),
                                                 scheme: index == 0 ? "https" : "http"))
            }
            for (index, fields) in responseFields.enumerated() {
                heads.append(StreamFrame.Headers(response: ResponseHead(version: .http1_1, status: .init(statusCode: [200, 404, 1000][index]), headers: HeaderFields(fields))))
            }
            // Each head twice in a row: the second from the memo where it was sent as indexes.
            for (index, head) in heads.enumerated() {
                for _ in 0..<2 {
                    var buffer = ByteBuffer()
                    encoder.encode(head, to: &buffer)
                    let expected = head.block.map { [$0.name, $0.value] }
                    #expect(try ours.decode(buffer).map { [$0.name, $0.value] } == expected, "round \(round), head \(index)")
                    #expect(try decoder.decodeHeaders(from: &buffer).map { [$0.name, $0.value] } == expected, "round \(round), head \(index)")
                }
            }
        }
        #expect(encoder.memoHits > 10)
        // What the translation makes, spelled out for the first request and response.
        let request = StreamFrame.Headers(request: RequestHead(version: .http1_1, method: .GET, uri: "/", headers: HeaderFields(requestFields[0])), scheme: "https")
        #expect(request.block.map { "\($0.name)=\($0.value)" } == [":method=GET", ":scheme=https", ":authority=chat.meridian:15001", ":path=/",
                                                                  "user-agent=curl/8", "accept=*/*", "x-mixed-case=Value"])
        let bare = StreamFrame.Headers(request: RequestHead(version: .http1_1, method: .POST, uri: "/v1/1?q=1", headers: HeaderFields(requestFields[1])), scheme: "http")
        #expect(bare.block.map { "\($0.name)=\($0.value)" } == [":method=POST", ":scheme=http", ":path=/v1/1?q=1", "accept=*/*", "te=trailers",
                                                               "x-lower-tailx=1", "abcdefgh=2", "traceparent=00-a-b-01"])
        let twoHosts = StreamFrame.Headers(request: RequestHead(version: .http1_1, method: .RAW(value: "PURGE"), uri: "/", headers: HeaderFields(requestFields[2])), scheme: "http")
        #expect(twoHosts.block.map { "\($0.name)=\($0.value)" } == [":method=PURGE", ":scheme=http", ":authority=a", ":path=/", "content-length=3"])
        let status = StreamFrame.Headers(response: ResponseHead(version: .http1_1, status: .init(statusCode: 1000), headers: HeaderFields(responseFields[1])))
        #expect(status.block.map { "\($0.name)=\($0.value)" } == [":status=1000", "grpc-status=0"])
        let response = StreamFrame.Headers(response: ResponseHead(version: .http1_1, status: .ok, headers: HeaderFields(responseFields[0])))
        #expect(response.block.map { "\($0.name)=\($0.value)" } == [":status=200", "server=nginx", "date=now", "content-type=text/html",
                                                                   "content-length=1024", "etag=\"x\""])
    }

    @Test("the memo keeps names as the head has them: the same name in another case at the same position is still sent lowercased")
    func memoOfNamesInAnyCase() throws {
        var encoder = TunnelHPACKEncoder()
        var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
        var ours = TunnelHPACKDecoder(maxHeaderListSize: 1 << 20)
        // Hits per head: none at first; then :status (static) while server and content-type go as dynamic indexes
        // (the first head inserted them); then all three while the spelling repeats, two when it changes.
        let rounds: [(name: String, hits: Int)] = [("Content-Type", 0), ("Content-Type", 1), ("Content-Type", 3), ("content-type", 2),
                                                   ("CONTENT-TYPE", 2), ("CONTENT-TYPE", 3), ("Content-Type", 2)]
        for (round, (name, hits)) in rounds.enumerated() {
            let head = StreamFrame.Headers(response: ResponseHead(version: .http1_1, status: .ok, headers: HeaderFields([("Server", "nginx"), (name, "text/html")])))
            var buffer = ByteBuffer()
            let before = encoder.memoHits
            encoder.encode(head, to: &buffer)
            #expect(encoder.memoHits - before == hits, "round \(round)")
            let expected = [[":status", "200"], ["server", "nginx"], ["content-type", "text/html"]]
            #expect(try ours.decode(buffer).map { [$0.name, $0.value] } == expected, "round \(round)")
            #expect(try decoder.decodeHeaders(from: &buffer).map { [$0.name, $0.value] } == expected, "round \(round)")
        }
    }

    @Test("credentials are never indexed: sent again, they are the same never-indexed literal, not an index")
    func credentialsNeverIndexed() throws {
        var encoder = TunnelHPACKEncoder()
        for name in ["authorization", "proxy-authorization", "cookie", "set-cookie"] {
            var first = ByteBuffer(), second = ByteBuffer()
            encoder.encode([name: "secret"], to: &first)
            encoder.encode([name: "secret"], to: &second)
            #expect(first == second, "\(name)")
            #expect(first.getInteger(at: 0, as: UInt8.self).map { $0 & 0xf0 } == 0x10, "\(name): a never-indexed literal")
        }
        var plain = ByteBuffer()
        encoder.encode(["x-plain": "value"], to: &plain)
        var again = ByteBuffer()
        encoder.encode(["x-plain": "value"], to: &again)
        #expect(again.readableBytes == 1, "an ordinary field, sent again, is one index byte")
    }

    @Test("a smaller table limit from the peer is signalled and respected; a larger one later too")
    func tableSizeUpdates() throws {
        let blocks = (0..<200).map(Self.request)
        _ = try Self.roundTrip(blocks, tableLimits: [5: [0], 6: [1024], 50: [100], 51: [8192], 80: [64, 2048], 120: [256], 121: [256, 4096]])
    }

    @Test("the dynamic table's values survive the moves of its value store: hundreds of KiB of new values of every size, names old and new, repeats of values still in the table, and table limits that change, decode as they were sent")
    func valueStoreMoves() throws {
        var generator = SystemRandomNumberGenerator()
        var recent: [(String, String)] = []
        var blocks: [HPACKHeaders] = []
        for n in 0..<600 {
            var block: HPACKHeaders = [":method": "GET", ":path": "/\(n % 7)"]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let name = Bool.random(using: &generator) ? "x-field-\(Int.random(in: 0..<20, using: &generator))" : "content-type"
                let value = String(repeating: Character(UnicodeScalar(UInt8(97 + n % 26))), count: Int.random(in: 0...512, using: &generator)) + "\(n)"
                block.add(name: name, value: value)
                recent.append((name, value))
            }
            // A field sent earlier, likely still in the table (an index), or evicted (a literal again).
            if let (name, value) = recent.suffix(12).randomElement(using: &generator) { block.add(name: name, value: value) }
            blocks.append(block)
        }
        _ = try Self.roundTrip(blocks, tableLimits: [100: [1024], 200: [4096], 300: [0], 301: [4096], 450: [300]])
    }

    @Test("a value still in the dynamic table is sent as an index after its store's values were moved, many times over")
    func indexesAfterValueStoreMoves() throws {
        var encoder = TunnelHPACKEncoder()
        var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
        var previous: HeaderFields?
        for n in 0..<200 {
            let fields: HeaderFields = ["x-k": String(repeating: Character(UnicodeScalar(UInt8(97 + n % 26))), count: 300 + n % 100) + "\(n)"]
            for block in [fields, previous].compactMap({ $0 }) {
                var buffer = ByteBuffer()
                encoder.encode(block, to: &buffer)
                if block == previous {
                    // Sent two blocks ago, still in the table (two entries of about 440 bytes): one index byte.
                    #expect(buffer.readableBytes == 1, "block \(n): \(buffer.readableBytes) bytes")
                }
                let decoded = try decoder.decodeHeaders(from: &buffer)
                #expect(decoded.map { [$0.name, $0.value] } == block.fields.map { [$0.name, $0.value] })
            }
            previous = fields
        }
        #expect(encoder.valueStoreMoves >= 3, "the store's values moved \(encoder.valueStoreMoves) times")
    }

    @Test("integers with 5, 6 and 7-bit prefixes at and across their limits")
    func integers() throws {
        for (prefix, value) in [(5, 30), (5, 31), (5, 32), (6, 62), (6, 63), (6, 64), (7, 126), (7, 127), (7, 128), (7, 300), (7, 70_000)] {
            var buffer = ByteBuffer()
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 16) { bytes in
                var writer = TunnelHPACKEncoder.Writer(bytes: bytes)
                writer.integer(value, prefix: prefix, flags: 0)
                return writer.count
            }
            // Decoded by hand, RFC 7541 section 5.1.
            let limit = (1 << prefix) - 1
            var decoded = Int(buffer.readInteger(as: UInt8.self)!) & limit
            if decoded == limit {
                var shift = 0
                while let byte = buffer.readInteger(as: UInt8.self) {
                    decoded += Int(byte & 0x7f) << shift
                    shift += 7
                    if byte & 0x80 == 0 { break }
                }
            }
            #expect(decoded == value && buffer.readableBytes == 0, "prefix \(prefix) value \(value)")
        }
    }
}
