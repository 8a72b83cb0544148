/// Decodes HPACK's Huffman-coded string literals (RFC 7541 section 5.2 and Appendix B), which most HTTP/2 peers send
/// for every literal: h2c clients (curl, grpc), model servers (grpcio, nginx), gateways of earlier versions.
///
/// The code is canonical: codes of one length are consecutive and follow the symbols' order, so the lengths alone
/// give it. Each symbol is found from the next 30 bits: a code of at most 8 bits (the letters, digits and common
/// punctuation: most of any header value) from a table of the 256 values of their first 8 bits; a longer one from the
/// smallest length whose left-justified bound is above them, then its rank among that length's symbols. NIOHPACK's
/// decoder, handed each literal on its own, cost about 3,000 instructions per literal (a response from nginx over h2c
/// sent seven).
///
/// Errors (RFC 7541 section 5.2): padding longer than 7 bits or not the leading bits of EOS, and the EOS symbol
/// itself.
struct HPACKHuffmanDecoder {
    /// Each symbol's code length, RFC 7541 Appendix B (256 is EOS).
    static let codeLengths: [UInt8] = [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
        30,
    ]

    private struct Tables {
        /// By length: the left-justified (30-bit) bound below which every code of that length or shorter falls.
        var limits = [UInt32](repeating: 0, count: 31)
        /// By length: what to add to a code's value (right-justified) for its symbol's index in symbols.
        var offsets = [Int](repeating: 0, count: 31)
        /// The symbols ordered by code length, then by value.
        var symbols: [UInt16] = []
        /// By the next 8 bits: the symbol whose code of at most 8 bits starts them, and the code's length
        /// (`length << 8 | symbol`), or 0 when the code is longer.
        var short = [UInt16](repeating: 0, count: 256)

        init() {
            var counts = [Int](repeating: 0, count: 31)
            for length in HPACKHuffmanDecoder.codeLengths { counts[Int(length)] += 1 }
            symbols = (0...256).map(UInt16.init).sorted {
                (HPACKHuffmanDecoder.codeLengths[Int($0)], $0) < (HPACKHuffmanDecoder.codeLengths[Int($1)], $1)
            }
            var code = 0
            var start = 0
            for length in 1...30 {
                offsets[length] = start - code
                limits[length] = UInt32((code + counts[length]) << (30 - length))
                if length <= 8 {
                    for rank in 0..<counts[length] {
                        let first = (code + rank) << (8 - length)
                        for next in first..<(first + 1 << (8 - length)) {
                            short[next] = UInt16(length) << 8 | symbols[start + rank]
                        }
                    }
                }
                start += counts[length]
                code = (code + counts[length]) << 1
            }
        }
    }

    private static let shared = Tables()
    /// A copy per decoder (per connection): reading a `static let` costs a `swift_once` call each time.
    private let tables = HPACKHuffmanDecoder.shared

    /// Appends the bytes `bytes` code to `out`; `false` when they are not a valid Huffman-coded string (`out` is then
    /// as it was).
    func decode(_ bytes: UnsafeRawBufferPointer, appendingTo out: inout FieldBytes) -> Bool {
        var failed = false
        out.append(upTo: bytes.count * 8 / 5 + 1) { out in
            tables.short.withUnsafeBufferPointer { short in
                tables.limits.withUnsafeBufferPointer { limits in
                    tables.offsets.withUnsafeBufferPointer { offsets in
                        tables.symbols.withUnsafeBufferPointer { symbols in
                            decode(bytes, into: out, short: short, limits: limits, offsets: offsets, symbols: symbols, failed: &failed)
                        }
                    }
                }
            }
        }
        return !failed
    }

    /// The string `bytes` code, or `nil` when they are not a valid Huffman-coded string.
    func decode(_ bytes: UnsafeRawBufferPointer) -> String? {
        var failed = false
        let string = String(unsafeUninitializedCapacity: bytes.count * 8 / 5 + 1) { out in
            tables.short.withUnsafeBufferPointer { short in
                tables.limits.withUnsafeBufferPointer { limits in
                    tables.offsets.withUnsafeBufferPointer { offsets in
                        tables.symbols.withUnsafeBufferPointer { symbols in
                            decode(bytes, into: out, short: short, limits: limits, offsets: offsets, symbols: symbols, failed: &failed)
                        }
                    }
                }
            }
        }
        return failed ? nil : string
    }

    /// The symbols `bytes` code, written into `out`; their count, or 0 with `failed` set.
    private func decode(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<UInt8>,
                        short: UnsafeBufferPointer<UInt16>, limits: UnsafeBufferPointer<UInt32>, offsets: UnsafeBufferPointer<Int>,
                        symbols: UnsafeBufferPointer<UInt16>, failed: inout Bool) -> Int {
        var accumulator: UInt64 = 0
        var bits = 0
        var index = 0
        var count = 0
        while true {
            while bits <= 56, index < bytes.count {
                accumulator = accumulator << 8 | UInt64(bytes[index])
                index += 1
                bits += 8
            }
            guard bits > 0 else { break }
            // The next 30 bits; past the end, ones (what EOS would continue with).
            let window = bits >= 30
                ? UInt32(truncatingIfNeeded: accumulator >> (bits - 30)) & 0x3FFF_FFFF
                : UInt32(truncatingIfNeeded: accumulator << (30 - bits) | (1 << (30 - bits) - 1)) & 0x3FFF_FFFF
            let entry = short[Int(window >> 22)]
            var length = Int(entry >> 8)
            if length == 0 {
                length = 9
                while window >= limits[length] { length += 1 }
            }
            if length > bits {
                // What is left is padding: at most 7 bits, all ones.
                let mask: UInt64 = 1 << bits - 1
                if bits > 7 || accumulator & mask != mask { failed = true }
                break
            }
            let symbol = entry != 0 ? entry & 0xFF : symbols[offsets[length] + Int(window >> (30 - length))]
            guard symbol < 256 else {
                failed = true
                break
            }
            out[count] = UInt8(truncatingIfNeeded: symbol)
            count += 1
            bits -= length
            accumulator &= 1 << bits - 1
        }
        return failed ? 0 : count
    }
}
