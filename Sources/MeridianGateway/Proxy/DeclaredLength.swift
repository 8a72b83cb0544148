import NIOHTTP2

/// RFC 9113 section 8.1.1 on a received HTTP/2 message: the DATA of a message whose `content-length` names a length
/// adds up to it, or the message is malformed (a stream error, `PROTOCOL_ERROR`). Checked by the owner of every
/// HTTP/2 stream (``HTTP2StreamDownstream``, ``HTTP2StreamUpstream``). On the tunnel it is the only check:
/// `NIOHTTP2Handler`'s was off there (``HTTP2Tuning``), as it read every received header block for the field a second
/// time, about 3,200 instructions per request per gateway; this one uses the value the head's translation parsed.
///
/// It is what keeps a request smuggled in a body from reaching a local HTTP/1.1 endpoint, where the bytes past the
/// length would be read as a second request that no admission check saw. So the value is read strictly
/// (``parse(bytes:into:)``), stricter than NIO's verifier, which lets an empty value (`content-length: ""`, read as
/// no length) and a signed one (`+5`) through, and the relayed head carries the one value checked, in decimal.
struct DeclaredLength {
    /// The bytes still to come; `nil` when the message names no length.
    private var remaining: Int?

    /// `contentLength`: the value of the head's `content-length` (``parse(bytes:into:)``); `bodyless`: a response that
    /// may carry no DATA whatever length it names (to HEAD, or a 304).
    init(contentLength: Int?, bodyless: Bool = false) {
        remaining = bodyless ? 0 : contentLength
    }

    /// A DATA frame's payload arrived (with END_STREAM: `endStream`): more than the rest of the declared length is a
    /// violation, and so is less when it ends the message.
    mutating func received(_ bytes: Int, endStream: Bool) throws {
        if let remaining {
            guard bytes <= remaining else { throw NIOHTTP2Errors.contentLengthViolated() }
            self.remaining = remaining - bytes
        }
        if endStream { try ended() }
    }

    /// The message ended (END_STREAM): less than the declared length is a violation.
    func ended() throws {
        if let remaining, remaining != 0 { throw NIOHTTP2Errors.contentLengthViolated() }
    }

    /// Reads one `content-length` field's value into `declared` (the value of the fields before it, if any): a
    /// comma-separated list of one or more decimal numbers (RFC 9110 8.6: `1*DIGIT`, no sign), with optional
    /// whitespace around each, all equal to each other and to `declared`.
    static func parse(bytes value: UnsafeBufferPointer<UInt8>, into declared: inout Int?) throws {
        var start = 0
        while true {
            var end = start
            while end < value.count, value[end] != UInt8(ascii: ",") { end += 1 }
            guard let length = decimal(UnsafeBufferPointer(rebasing: value[start..<end]).trimmingOptionalWhitespace) else {
                throw NIOHTTP2Errors.contentLengthHeaderMalformedValue()
            }
            if let declared, declared != length { throw NIOHTTP2Errors.contentLengthHeadersMismatch() }
            declared = length
            guard end < value.count else { return }
            start = end + 1
        }
    }

    /// A block's `content-length` fields in its translation to a head: each value read into ``declared``
    /// (``parse(bytes:into:)``); the first field kept, with the value checked in decimal (``apply(to:)``), the others
    /// dropped (they agree with it).
    struct Relay {
        private(set) var declared: Int?
        private var keptAt: Int?

        /// Whether `entry` (whose bytes are `bytes`) is `content-length`: then it is read, and the first one kept in
        /// `entries`.
        mutating func take(_ entry: HeaderFields.Entry, of bytes: UnsafeBufferPointer<UInt8>, into entries: inout [HeaderFields.Entry]) throws -> Bool {
            guard entry.known == .contentLength else { return false }
            let first = declared == nil
            try DeclaredLength.parse(bytes: UnsafeBufferPointer(rebasing: bytes[entry.value]), into: &declared)
            if first {
                keptAt = entries.count
                entries.append(entry)
            }
            return true
        }

        /// Puts the checked value, in decimal, in place of the field kept, unless it is that already (the fields
        /// share the block's bytes, and a change copies them).
        func apply(to fields: inout HeaderFields) {
            guard let keptAt, let declared else { return }
            if fields.withValue(at: keptAt, { Self.isDecimal(declared, $0) }) { return }
            fields.replace(at: keptAt, with: .init(name: "content-length", value: String(declared), known: .contentLength))
        }

        /// Whether `bytes` are `value` in decimal, as `String(value)` writes it.
        static func isDecimal(_ value: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            guard !bytes.isEmpty, bytes.count <= 19, value >= 0 else { return false }
            guard bytes.count == 1 || bytes[0] != UInt8(ascii: "0") else { return false }
            var rest = value
            for index in stride(from: bytes.count - 1, through: 0, by: -1) {
                guard bytes[index] == UInt8(ascii: "0") + UInt8(rest % 10) else { return false }
                rest /= 10
            }
            return rest == 0
        }
    }

    /// `1*DIGIT` as a number; `nil` for anything else (empty, a sign, another character, or too large).
    private static func decimal(_ text: UnsafeBufferPointer<UInt8>) -> Int? {
        var value = 0
        var digits = 0
        for byte in text {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
            digits += 1
        }
        return digits > 0 ? value : nil
    }
}
