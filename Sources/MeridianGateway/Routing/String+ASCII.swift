extension String {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace), without Foundation: this runs on
    /// every request.
    var trimmingOptionalWhitespace: Substring { self[...].trimmingOptionalWhitespace }

    /// ``trimmingOptionalWhitespace`` as a string: the string itself, not a copy, when there is nothing to trim (the
    /// values the gateway's parsers give have none).
    var trimmedOptionalWhitespace: String {
        let trimmed = withUTF8Bytes { $0.isEmpty || (!$0[0].isOptionalWhitespace && !$0[$0.count - 1].isOptionalWhitespace) }
        return trimmed ? self : String(trimmingOptionalWhitespace)
    }

    /// ``StringProtocol/asciiLowercased`` on the string's contiguous bytes (iterating `utf8` costs about ten
    /// instructions a byte); the string itself when it has no uppercase letter.
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

extension Substring {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    var trimmingOptionalWhitespace: Substring {
        let utf8 = self.utf8
        guard let first = utf8.firstIndex(where: { !$0.isOptionalWhitespace }) else { return "" }
        let last = utf8.lastIndex(where: { !$0.isOptionalWhitespace })!
        return self[first...last]
    }
}

extension StringProtocol {
    /// Lowercased, with a fast path for ASCII (header values, host names); anything else goes through Unicode
    /// `lowercased()`.
    var asciiLowercased: String {
        let utf8 = self.utf8
        guard utf8.allSatisfy({ $0 < 0x80 }) else { return lowercased() }
        guard utf8.contains(where: { $0.isASCIIUppercase }) else { return String(self) }
        return String(unsafeUninitializedCapacity: utf8.count) { buffer in
            var index = 0
            for byte in utf8 {
                buffer[index] = byte.asciiLowercased
                index += 1
            }
            return index
        }
    }
}

extension String {
    /// A token of RFC 9110 (a method, a field name): one or more ``UInt8/isHTTPTokenByte`` bytes.
    var isHTTPToken: Bool { withUTF8Bytes { !$0.isEmpty && $0.allSatisfy(\.isHTTPTokenByte) } }
}

extension UInt8 {
    /// A `tchar` of RFC 9110: letters, digits and ``!#$%&'*+-.^_`|~``.
    @inline(__always)
    var isHTTPTokenByte: Bool {
        switch self {
        case 0x21, 0x23...0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x30...0x39, 0x41...0x5A, 0x5E...0x7A, 0x7C, 0x7E: return true
        default: return false
        }
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
