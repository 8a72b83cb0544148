import NIOCore
import NIOHPACK
import Testing

@testable import MeridianGateway

/// ``TunnelHPACKDecoder`` reads what NIOHPACK's encoder writes (a gateway of an earlier version: Huffman-coded
/// literals, its own indexing, table size changes) as NIOHPACK's decoder does, and refuses a broken block.
/// (``TunnelHPACKEncoderTests`` decodes the tunnel encoder's blocks with it as well.)
@Suite("Tunnel HPACK decoder")
struct TunnelHPACKDecoderTests {
    static func fields(_ headers: HPACKHeaders) -> [String] {
        headers.map { "\($0.name)=\($0.value)" }
    }

    static func fields(_ headers: HeaderFields) -> [String] {
        headers.map { "\($0.name)=\($0.value)" }
    }

    @Test("blocks from NIOHPACK's encoder (Huffman, indexing, never-indexed fields, table size changes) decode as NIOHPACK decodes them (names and values; every field comes back indexable)")
    func readsNIOHPACK() throws {
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
        var reference = HPACKDecoder(allocator: ByteBufferAllocator())
        var ours = TunnelHPACKDecoder(maxHeaderListSize: 1 << 20)
        for n in 0..<400 {
            if n == 100 { try encoder.setDynamicTableSize(512) }
            if n == 150 { try encoder.setDynamicTableSize(0) }
            if n == 160 { try encoder.setDynamicTableSize(4096) }
            var block = TunnelHPACKEncoderTests.request(n)
            block.add(name: "x-secret", value: "s-\(n % 3)", indexing: .neverIndexed)
            block.add(name: "x-unindexed-\(n % 4)", value: "u", indexing: .nonIndexable)
            block.add(name: "x-unicode", value: "välue \(n % 7)")
            var buffer = ByteBuffer()
            try encoder.encode(headers: block, to: &buffer)
            let decoded = try ours.decode(buffer)
            let expected = try reference.decodeHeaders(from: &buffer)
            #expect(Self.fields(decoded) == Self.fields(expected), "block \(n)")
            #expect(decoded.map(\.value) == block.map(\.value), "block \(n)")
        }
    }

    @Test("a block repeated byte for byte, the table unchanged, is handed out again; a block that changed the table is decoded every time, and so is every block after it")
    func repeatedBlocks() throws {
        var ours = TunnelHPACKDecoder(maxHeaderListSize: 1 << 20)
        let staticOnly: [UInt8] = [0x82, 0x84, 0x86]   // :method GET, :path /, :scheme http
        let first = try ours.decode(ByteBuffer(bytes: staticOnly))
        let again = try ours.decode(ByteBuffer(bytes: staticOnly))
        #expect(Self.fields(again) == Self.fields(first) && Self.fields(first) == [":method=GET", ":path=/", ":scheme=http"])
        #expect(ours.blocksRepeated == 1)
        // A literal with incremental indexing inserts an entry each time it is decoded: twice, two entries.
        let inserting: [UInt8] = [0x40, 3] + Array("x-a".utf8) + [1] + Array("1".utf8)
        for _ in 0..<2 { #expect(Self.fields(try ours.decode(ByteBuffer(bytes: inserting))) == ["x-a=1"]) }
        #expect(ours.blocksRepeated == 1)
        #expect(Self.fields(try ours.decode(ByteBuffer(bytes: [0xbf]))) == ["x-a=1"], "index 63: the older of the two entries")
        #expect(Self.fields(try ours.decode(ByteBuffer(bytes: staticOnly))) == [":method=GET", ":path=/", ":scheme=http"])

        // A model server's responses through NIOHPACK's encoder: the same head again and again, a new `date` now
        // and then (a literal that changes the table). Every block reads as NIOHPACK's decoder reads it.
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
        var reference = HPACKDecoder(allocator: ByteBufferAllocator())
        var decoder = TunnelHPACKDecoder(maxHeaderListSize: 1 << 20)
        for n in 0..<200 {
            let block: HPACKHeaders = [":status": "200", "content-type": "application/json", "date": "second \(n / 20)", "content-length": "1024"]
            var buffer = ByteBuffer()
            try encoder.encode(headers: block, to: &buffer)
            let decoded = try decoder.decode(buffer)
            let expected = try reference.decodeHeaders(from: &buffer)
            #expect(Self.fields(decoded) == Self.fields(expected), "block \(n)")
        }
        #expect(decoder.blocksRepeated >= 150, "\(decoder.blocksRepeated)")
    }

    @Test("a block that begins with the last block's fields (the same bytes, the table unchanged) reuses them and decodes the rest: blocks that share prefixes of every length read as NIOHPACK's decoder reads them")
    func sharedPrefixes() throws {
        // Raw: the last field differs (a new traceparent-like literal, not indexed), then a field in the middle.
        var ours = TunnelHPACKDecoder(maxHeaderListSize: 1 << 20)
        func literal(_ name: String, _ value: String) -> [UInt8] { [0x00, UInt8(name.utf8.count)] + Array(name.utf8) + [UInt8(value.utf8.count)] + Array(value.utf8) }
        let head: [UInt8] = [0x82, 0x84, 0x86] + literal("x-tenant", "blue")
        for (n, tail) in ["a", "bb", "ccc"].enumerated() {
            let decoded = try ours.decode(ByteBuffer(bytes: head + literal("traceparent", tail)))
            #expect(Self.fields(decoded) == [":method=GET", ":path=/", ":scheme=http", "x-tenant=blue", "traceparent=\(tail)"])
            #expect(ours.fieldsRepeated == 4 * n, "the four fields before the last, from the second block on")
        }
        // The value of the fourth field differs in its last byte: the three before it are reused.
        let other = try ours.decode(ByteBuffer(bytes: [0x82, 0x84, 0x86] + literal("x-tenant", "bluE") + literal("traceparent", "d")))
        #expect(Self.fields(other) == [":method=GET", ":path=/", ":scheme=http", "x-tenant=bluE", "traceparent=d"])
        #expect(ours.fieldsRepeated == 8 + 3)

        // Blocks from a small vocabulary (so that they share prefixes often), some fields indexed (changing the
        // table), through NIOHPACK's encoder and through the tunnel's, each read by a decoder of each kind.
        var random = SplitMix64(seed: 11)
        var nio = HPACKEncoder(allocator: ByteBufferAllocator())
        var tunnel = TunnelHPACKEncoder()
        var fromNIO = (ours: TunnelHPACKDecoder(maxHeaderListSize: 1 << 20), reference: HPACKDecoder(allocator: ByteBufferAllocator()))
        var fromTunnel = (ours: TunnelHPACKDecoder(maxHeaderListSize: 1 << 20), reference: HPACKDecoder(allocator: ByteBufferAllocator()))
        for n in 0..<600 {
            var block: HPACKHeaders = [":method": "GET", ":scheme": "https", ":path": "/v1/\(random.next() % 3)"]
            for field in 0..<Int(random.next() % 5) {
                let value = "v\(random.next() % 3)"
                block.add(name: "x-field-\(field)", value: value, indexing: random.next() % 4 == 0 ? .indexable : .nonIndexable)
            }
            block.add(name: "traceparent", value: "00-\(random.next() % 4)", indexing: .nonIndexable)
            var a = ByteBuffer()
            try nio.encode(headers: block, to: &a)
            #expect(Self.fields(try fromNIO.ours.decode(a)) == Self.fields(try fromNIO.reference.decodeHeaders(from: &a)), "block \(n), NIOHPACK's encoder")
            var b = ByteBuffer()
            tunnel.encode(HeaderFields(block.map { ($0.name, $0.value) }), to: &b)
            #expect(Self.fields(try fromTunnel.ours.decode(b)) == Self.fields(try fromTunnel.reference.decodeHeaders(from: &b)), "block \(n), the tunnel's encoder")
        }
        #expect(fromNIO.ours.fieldsRepeated > 300 && fromTunnel.ours.fieldsRepeated > 300, "\(fromNIO.ours.fieldsRepeated), \(fromTunnel.ours.fieldsRepeated)")
    }

    /// A block of raw bytes after `setup` blocks decoded first.
    static func refuses(_ bytes: [UInt8], after setup: [[UInt8]] = [], maxHeaderListSize: Int = 1 << 20) -> String? {
        var decoder = TunnelHPACKDecoder(maxHeaderListSize: maxHeaderListSize)
        for block in setup { _ = try? decoder.decode(ByteBuffer(bytes: block)) }
        do {
            _ = try decoder.decode(ByteBuffer(bytes: bytes))
            return nil
        } catch {
            return error.description
        }
    }

    @Test("a broken block is refused: index 0 or past the table, a size update above the limit or after a field, a cut integer or string, an integer past 31 bits, a list over its limit")
    func refusals() throws {
        #expect(Self.refuses([0x80]) != nil)                                  // index 0
        #expect(Self.refuses([0xbe]) != nil)                                  // 62: the dynamic table is empty
        #expect(Self.refuses([0x3f, 0xe2, 0x1f]) != nil)                      // size update to 4096 + 1
        #expect(Self.refuses([0x3f, 0xe1, 0x1f]) == nil)                      // to 4096: allowed
        #expect(Self.refuses([0x82, 0x20]) != nil)                            // a size update after a field
        #expect(Self.refuses([0xff]) != nil)                                  // an integer cut
        #expect(Self.refuses([0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]) != nil)   // past 2^31 - 1
        #expect(Self.refuses([0x40, 0x05, 0x61]) != nil)                      // a name of 5 bytes with 1 there
        #expect(Self.refuses([0x40, 0x01, 0x61, 0x81, 0xff]) != nil)          // a Huffman string that does not decode (EOS)
        #expect(Self.refuses([0x00, 0x02, 0xc3, 0xbc, 0x01, 0x62]) != nil)    // a name that is not ASCII ("ü")
        // A literal with indexing goes to the table: its index (62) works in the next block, 63 does not.
        let inserted: [UInt8] = [0x40, 0x01, 0x61, 0x01, 0x62]
        #expect(Self.refuses([0xbe], after: [inserted]) == nil)
        #expect(Self.refuses([0xbf], after: [inserted]) != nil)
        // After a size update to 0 the table is empty.
        #expect(Self.refuses([0xbe], after: [inserted, [0x20]]) != nil)
        // Header list: "a: b" is 1 + 1 + 32 = 34 bytes.
        #expect(Self.refuses([0x00, 0x01, 0x61, 0x01, 0x62], maxHeaderListSize: 34) == nil)
        #expect(Self.refuses([0x00, 0x01, 0x61, 0x01, 0x62, 0x00, 0x01, 0x61, 0x01, 0x62], maxHeaderListSize: 67) != nil)
    }

    @Test("entries are evicted oldest first to fit the table: what was evicted is no longer an index")
    func eviction() throws {
        var decoder = TunnelHPACKDecoder(maxTableSize: 100, maxHeaderListSize: 1 << 20)
        // Three entries of 32 + 1 + 10 = 43 bytes: the third evicts the first.
        for name in ["a", "b", "c"] {
            var block = ByteBuffer(bytes: [0x40, 0x01])
            block.writeString(name)
            block.writeInteger(UInt8(10))
            block.writeString("0123456789")
            _ = try decoder.decode(block)
        }
        #expect(try decoder.decode(ByteBuffer(bytes: [0xbe])).fields.first?.name == "c")   // 62: the newest
        #expect(try decoder.decode(ByteBuffer(bytes: [0xbf])).fields.first?.name == "b")
        #expect(throws: TunnelHPACKError.self) { try decoder.decode(ByteBuffer(bytes: [0xc0])) }   // 64: "a", evicted
    }
}
