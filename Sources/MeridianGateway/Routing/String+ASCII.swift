extension String {
    /// Lowercased, with a fast path for ASCII (header values, host names) on the string's contiguous bytes (iterating
    /// `utf8` costs about ten instructions a byte): the string itself when it has no uppercase letter; anything that
    /// is not ASCII goes through Unicode `lowercased()`.
    var asciiLowercased: String {
        let state = withUTF8Bytes { bytes -> UInt8 in
            var uppercase = false
            for byte in bytes {
                if byte >= 0x80 { return 2 }
                uppercase = uppercase || byte.isASCIIUppercase
            }
            return uppercase ? 1 : 0
        }
        switch state {
        case 0: return self
        case 1: return withUTF8Bytes { bytes in
            String(unsafeUninitializedCapacity: bytes.count) { buffer in
                for index in 0..<bytes.count { buffer[index] = bytes[index].asciiLowercased }
                return bytes.count
            }
        }
        default: return lowercased()
        }
    }
}

extension String {
    /// A token of RFC 9110 (a method, a field name): one or more ``UInt8/isHTTPTokenByte`` bytes.
    var isHTTPToken: Bool { withUTF8Bytes { !$0.isEmpty && $0.allSatisfy(\.isHTTPTokenByte) } }
}

extension UInt8 {
    /// A `tchar` of RFC 9110: letters, digits and ``!#$%&'*+-.^_`|~``, as two 64-bit masks (`HTTP1Parser` checks
    /// every byte of every field name with it; a table would be a global, whose lazy initialisation is checked at
    /// every access).
    @inline(__always)
    var isHTTPTokenByte: Bool {
        if self < 64 { return (0x03FF_6CFA_0000_0000 as UInt64) >> self & 1 == 1 }
        return self < 128 && (0x57FF_FFFF_C7FF_FFFE as UInt64) >> (self &- 64) & 1 == 1
    }

    /// A `tchar` other than an uppercase letter (``isHTTPTokenByte`` without `A`-`Z`: bits 1-26 of the upper mask).
    var isLowercaseHTTPTokenByte: Bool {
        if self < 64 { return isHTTPTokenByte }   // (no letter is below 64)
        return self < 128 && (0x57FF_FFFF_C000_0000 as UInt64) >> (self &- 64) & 1 == 1
    }

    var isOptionalWhitespace: Bool { self == UInt8(ascii: " ") || self == UInt8(ascii: "\t") }
    var isASCIIUppercase: Bool { self >= UInt8(ascii: "A") && self <= UInt8(ascii: "Z") }
    var asciiLowercased: UInt8 { isASCIIUppercase ? self | 0x20 : self }
    var isASCIIHexDigit: Bool {
        switch self {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"): return true
        default: return false
        }
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// Without optional whitespace (spaces and tabs) at either end: the bytes between, where they are.
    var trimmingOptionalWhitespace: UnsafeBufferPointer<UInt8> {
        var first = 0, last = count
        while first < last, self[first].isOptionalWhitespace { first += 1 }
        while last > first, self[last - 1].isOptionalWhitespace { last -= 1 }
        return UnsafeBufferPointer(rebasing: self[first..<last])
    }
}

extension UnsafeRawBufferPointer {
    /// The first byte a field value may not hold (RFC 9110 5.5), if any: a control character other than HTAB (CR, LF,
    /// NUL, ...) or DEL. Eight bytes at a time: a word with no byte below 0x20 and none equal to 0x7F is passed whole;
    /// only a word that has one (an HTAB, most often) is read byte by byte. Every field of every head the gateway
    /// parses or sends to an HTTP/1.1 endpoint is checked here.
    func firstFieldValueControl() -> UInt8? {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var offset = 0
        if let base = baseAddress {
            while offset + 8 <= count {
                let word = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                // Nonzero when some byte is below 0x20 ("hasless": a borrow can only spread from such a byte), or is 0x7F.
                let below = (word &- 0x20 &* ones) & ~word & highs
                let del = word ^ (0x7F &* ones)
                let isDel = (del &- ones) & ~del & highs
                if below | isDel != 0 {
                    for index in offset..<(offset + 8) where Self.isControl(self[index]) { return self[index] }
                }
                offset += 8
            }
        }
        while offset < count {
            if Self.isControl(self[offset]) { return self[offset] }
            offset += 1
        }
        return nil
    }

    @inline(__always)
    private static func isControl(_ byte: UInt8) -> Bool {
        (byte < 0x20 && byte != 0x09) || byte == 0x7F
    }
}

/// Tests on the eight bytes of a word at once, for words whose bytes are all below 0x80 (``hasHighBytes(_:)`` says
/// whether they are): a `traceparent`'s ids (``TraceContext/allHexDigits(_:)``), an HTTP/2 field name
/// (``HeaderFields/commonNameBytes(_:)``).
enum ASCIIWord {
    /// 0x01 in each byte.
    @inline(__always) static var ones: UInt64 { 0x0101_0101_0101_0101 }
    /// 0x80 in each byte: the bit ``inRange(_:_:_:)`` sets.
    @inline(__always) static var highs: UInt64 { 0x8080_8080_8080_8080 }

    /// Whether a byte of `word` is 0x80 or above.
    @inline(__always)
    static func hasHighBytes(_ word: UInt64) -> Bool { word & highs != 0 }

    /// 0x80 in each byte of `word` that is in `low...high`, nothing in the others; every byte below 0x80. Adding a
    /// byte below 0x80 to each then carries into no other byte: the top bit of a byte of `word + (0x80 - low)` says it
    /// is at least `low`, that of `word + (0x7F - high)` that it is above `high`.
    @inline(__always)
    static func inRange(_ word: UInt64, _ low: UInt64, _ high: UInt64) -> UInt64 {
        (word &+ (0x80 - low) &* ones) & ~(word &+ (0x7F - high) &* ones) & highs
    }
}
