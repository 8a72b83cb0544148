import NIOCore
import NIOHPACK
import Testing

@testable import MeridianGateway

/// ``HPACKHuffmanDecoder`` against NIOHPACK's Huffman encoder and decoder, and RFC 7541's rules for a string that
/// does not decode.
@Suite("HPACK Huffman decoder")
struct HPACKHuffmanDecoderTests {
    /// `value` Huffman-coded by NIOHPACK: the string literal's bytes (without its length prefix), or `nil` when NIOHPACK
    /// sent it as it is.
    static func coded(_ value: String) throws -> [UInt8]? {
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator(), useHuffmanEncoding: true)
        var block = ByteBuffer()
        var headers = HPACKHeaders()
        headers.add(name: "x", value: value, indexing: .nonIndexable)
        try encoder.encode(headers: headers, to: &block)
        // A field without indexing, new name: 0x00, the name ("x": 0x01 'x' or its Huffman form), then the value.
        var bytes = Array(block.readableBytesView)
        bytes.removeFirst()
        let nameLength = Int(bytes[0] & 0x7f)
        bytes.removeFirst(1 + nameLength)
        guard bytes[0] & 0x80 != 0 else { return nil }
        // The value's length prefix (7-bit integer).
        var length = Int(bytes[0] & 0x7f)
        var index = 1
        if length == 0x7f {
            var shift = 0
            while true {
                length += Int(bytes[index] & 0x7f) << shift
                shift += 7
                index += 1
                if bytes[index - 1] & 0x80 == 0 { break }
            }
        }
        return Array(bytes[index..<(index + length)])
    }

    static func decode(_ bytes: [UInt8]) -> String? {
        bytes.withUnsafeBytes { HPACKHuffmanDecoder().decode($0) }
    }

    @Test("every symbol, alone and in runs, and random strings of every byte value decode as NIOHPACK coded them")
    func matchesNIOHPACK() throws {
        // Every byte value on its own: each code length from 5 to 30 bits is read.
        var checked = 0
        for byte in 0...255 {
            let value = String(decoding: [UInt8(byte)], as: UTF8.self)
            guard let coded = try Self.coded(value) else { continue }
            #expect(Self.decode(coded) == value, "byte \(byte)")
            checked += 1
        }
        #expect(checked > 200)
        var random = SplitMix64(seed: 7)
        for n in 0..<2_000 {
            let length = Int(random.next() % 200)
            // ASCII mostly (header values), and any byte now and then.
            let bytes = (0..<length).map { _ in
                random.next() % 8 == 0 ? UInt8(truncatingIfNeeded: random.next()) : UInt8(0x20 + random.next() % 95)
            }
            let value = String(decoding: bytes, as: UTF8.self)
            guard let coded = try Self.coded(value) else { continue }
            #expect(Self.decode(coded) == value, "string \(n): \(value.debugDescription)")
            checked += 1
        }
        #expect(checked > 1_500)
        // What a server sends: nginx's fields.
        for value in ["nginx/1.22.1", "Mon, 30 Nov 2026 18:20:00 GMT", "text/html", "\"6927a6e6-400\"", "bytes", "1024"] {
            #expect(Self.decode(try #require(try Self.coded(value))) == value)
        }
    }

    @Test("a string that does not decode is refused: padding over 7 bits, padding that is not all ones, EOS")
    func refusals() throws {
        let coded = try #require(try Self.coded("a"))   // 'a' is 00011 (5 bits), then 111 of padding
        #expect(coded == [0x1f])
        #expect(Self.decode(coded) == "a")
        #expect(Self.decode([0x18]) == nil, "padding 000 is not EOS's first bits")
        #expect(Self.decode([0x1f, 0xff]) == nil, "padding of 11 bits")
        #expect(Self.decode([0xff]) == nil, "8 bits of padding, nothing else")
        #expect(Self.decode([0xff, 0xff, 0xff, 0xfc]) == nil, "EOS (30 ones) as a symbol")
        #expect(Self.decode([]) == "")
        // Two symbols and the padding: "aa" is 00011 00011 then 111111.
        #expect(Self.decode([0x18, 0xff]) == "aa")
    }
}
