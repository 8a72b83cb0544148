/// A W3C trace context (`traceparent: 00-TRACEID-PARENTID-FLAGS`).
///
/// The gateway keeps the trace id, adds its own span (a new parent id) on every hop, and starts a trace when a
/// request has none.
public struct TraceContext: Sendable, Hashable {
    /// 32 lowercase hex digits, not all zero.
    public var traceID: String
    /// 16 lowercase hex digits, not all zero: the span that sends the request.
    public var spanID: String
    /// Two hex digits; `01` is sampled.
    public var flags: String

    /// Parses a `traceparent` header; `nil` for anything malformed (then a new trace starts). Works on the UTF-8
    /// bytes: it runs on every request.
    public init?(traceparent: String) {
        var header = traceparent
        guard let parsed = header.withUTF8(Self.parse) else { return nil }
        (traceID, spanID, flags) = parsed
    }

    /// `VV-TRACEID-SPANID-FF[-more, versions after 00 only]`, hex digits, ids not all zero; ids and flags lowercased.
    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> (String, String, String)? {
        guard isValid(bytes) else { return nil }
        return (lowercased(bytes, 3..<35), lowercased(bytes, 36..<52), lowercased(bytes, 53..<55))
    }

    private static func lowercased(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        String(unsafeUninitializedCapacity: range.count) { buffer in
            for (offset, index) in range.enumerated() { buffer[offset] = bytes[index].asciiLowercased }
            return range.count
        }
    }

    /// Whether `bytes` are a `traceparent` this gateway continues (``parse(_:)``'s rules). The ids are checked eight
    /// bytes at a time (``allHexDigits(_:)``): byte by byte, through `allSatisfy` on slices, the check cost about 450
    /// instructions on every request a peer sends.
    private static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let dash = UInt8(ascii: "-")
        guard bytes.count >= 55, bytes[2] == dash, bytes[35] == dash, bytes[52] == dash else { return false }
        let raw = UnsafeRawPointer(bytes.baseAddress!)
        func word(_ offset: Int) -> UInt64 { raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }
        let trace = (word(3), word(11), word(19), word(27)), span = (word(36), word(44))
        guard allHexDigits(trace.0), allHexDigits(trace.1), allHexDigits(trace.2), allHexDigits(trace.3),
              allHexDigits(span.0), allHexDigits(span.1),
              bytes[0].isASCIIHexDigit, bytes[1].isASCIIHexDigit, bytes[53].isASCIIHexDigit, bytes[54].isASCIIHexDigit
        else { return false }
        let version = (bytes[0].asciiLowercased, bytes[1].asciiLowercased)
        guard version != (UInt8(ascii: "f"), UInt8(ascii: "f")) else { return false }
        if bytes.count > 55 {
            guard version != (UInt8(ascii: "0"), UInt8(ascii: "0")), bytes[55] == dash,
                  bytes[56...].allSatisfy({ $0 == dash || $0.isASCIIHexDigit }) else { return false }
        }
        // Neither id all zeros.
        let zeros = 0x30 &* ASCIIWord.ones
        return trace != (zeros, zeros, zeros, zeros) && span != (zeros, zeros)
    }

    /// Whether each of the eight bytes of `word` is a hex digit, in either case.
    @inline(__always)
    static func allHexDigits(_ word: UInt64) -> Bool {
        guard !ASCIIWord.hasHighBytes(word) else { return false }
        let digits = ASCIIWord.inRange(word, 0x30, 0x39)
        let letters = ASCIIWord.inRange(lowercasedHexWord(word), 0x61, 0x66)   // `A`-`F` made `a`-`f`
        return digits | letters == ASCIIWord.highs
    }

    /// Eight hex digits lowercased: a letter gains bit 0x20, which every digit has already.
    @inline(__always)
    private static func lowercasedHexWord(_ word: UInt64) -> UInt64 {
        word | (0x20 &* ASCIIWord.ones)
    }

    /// The `traceparent` this hop sends: `incoming`'s trace with a new span id, or a new trace when `incoming` is
    /// absent or malformed. The same as parsing, ``nextHop(using:)`` and ``traceparent``, in one new string where
    /// those made five (about 2,000 instructions per request).
    public static func nextTraceparent(after incoming: String?, using generator: inout some RandomNumberGenerator) -> String {
        guard let incoming else { return nextTraceparentValue(afterBytes: nil, using: &generator).string }
        return incoming.withUTF8Bytes { nextTraceparentValue(afterBytes: $0, using: &generator).string }
    }

    /// ``nextTraceparent(after:using:)`` for an incoming header's bytes, read where they are (a field's value: a
    /// string made of it first was a heap allocation, the value being longer than a small string), held inline
    /// (``Traceparent``): what the gateway sends on every request, written into the request's fields with no string
    /// made of it.
    static func nextTraceparentValue(afterBytes incoming: UnsafeBufferPointer<UInt8>?,
                                     using generator: inout some RandomNumberGenerator) -> Traceparent {
        if let incoming, isValid(incoming) {
            let span = newSpanID(using: &generator)
            return Traceparent { continuing(incoming, span: span, into: $0) }
        }
        // A new trace, written in one pass (the ids as strings of their own, then joined, were three heap strings and
        // about 1,500 instructions).
        let trace = newTraceID(using: &generator)
        let span = newSpanID(using: &generator)
        return Traceparent { buffer in
            var at = "00-".copyUTF8(to: UnsafeMutableRawBufferPointer(buffer), at: 0)
            at = writeHex(trace.high, to: buffer, at: at)
            at = writeHex(trace.low, to: buffer, at: at)
            buffer[at] = UInt8(ascii: "-")
            at = writeHex(span, to: buffer, at: at + 1)
            buffer[at] = UInt8(ascii: "-")
            buffer[at + 1] = UInt8(ascii: "0")
            buffer[at + 2] = UInt8(ascii: "1")
            return at + 3
        }
    }

    /// Writes the header that continues the valid `traceparent` in `bytes` with the span `span` into `buffer`: version
    /// 00, the trace id and the flags lowercased. Returns the count written (55).
    private static func continuing(_ bytes: UnsafeBufferPointer<UInt8>, span: UInt64, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let out = UnsafeMutableRawBufferPointer(buffer)
        var at = "00-".copyUTF8(to: out, at: 0)
        let raw = UnsafeRawPointer(bytes.baseAddress!)
        for offset in stride(from: 3, to: 35, by: 8) {
            out.storeBytes(of: lowercasedHexWord(raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)), toByteOffset: at, as: UInt64.self)
            at += 8
        }
        buffer[at] = UInt8(ascii: "-")
        at = writeHex(span, to: buffer, at: at + 1)
        buffer[at] = UInt8(ascii: "-")
        buffer[at + 1] = bytes[53].asciiLowercased
        buffer[at + 2] = bytes[54].asciiLowercased
        return at + 3
    }

    /// Creates a context from parts.
    public init(traceID: String, spanID: String, flags: String = "01") {
        self.traceID = traceID
        self.spanID = spanID
        self.flags = flags
    }

    /// A new trace (sampled) with random ids.
    public static func start(using generator: inout some RandomNumberGenerator) -> TraceContext {
        let trace = newTraceID(using: &generator)
        return TraceContext(traceID: hex(trace.high, trace.low), spanID: hex(newSpanID(using: &generator)), flags: "01")
    }

    /// The same trace with a new span id: what this hop sends on.
    public func nextHop(using generator: inout some RandomNumberGenerator) -> TraceContext {
        TraceContext(traceID: traceID, spanID: Self.hex(Self.newSpanID(using: &generator)), flags: flags)
    }

    /// A new trace id's two halves, random, never all zero (the high half is odd). The one rule for new ids, whether
    /// they become strings of their own (``start(using:)``) or go straight into a header (``nextTraceparent(after:using:)``).
    private static func newTraceID(using generator: inout some RandomNumberGenerator) -> (high: UInt64, low: UInt64) {
        let high = generator.next() | 1
        return (high, generator.next())
    }

    /// A new span id, random, never zero.
    private static func newSpanID(using generator: inout some RandomNumberGenerator) -> UInt64 {
        generator.next() | 1
    }

    /// The header value, copied into one new string (five appends cost about 1,600 instructions per request).
    public var traceparent: String {
        let count = 3 + traceID.utf8.count + 1 + spanID.utf8.count + 1 + flags.utf8.count
        return String(unsafeUninitializedCapacity: count) { buffer in
            let out = UnsafeMutableRawBufferPointer(buffer)
            var at = "00-".copyUTF8(to: out, at: 0)
            at = traceID.copyUTF8(to: out, at: at)
            at = "-".copyUTF8(to: out, at: at)
            at = spanID.copyUTF8(to: out, at: at)
            at = "-".copyUTF8(to: out, at: at)
            return flags.copyUTF8(to: out, at: at)
        }
    }

    /// The values as lowercase hex, 16 digits each, most significant first.
    static func hex(_ values: UInt64...) -> String {
        String(unsafeUninitializedCapacity: 16 * values.count) { buffer in
            var index = 0
            for value in values { index = writeHex(value, to: buffer, at: index) }
            return index
        }
    }

    /// Writes `value` as 16 lowercase hex digits into `buffer` at `at`; returns the index after them. (A span id
    /// written in place: as a string of its own, it was a heap allocation per request, 16 bytes being past the
    /// inline small-string size.) Eight digits at a time: each nibble spread into a byte, then `0`-`9` or `a`-`f`
    /// made of it in every byte at once (a table lookup per digit cost about 700 instructions for a new trace's 48).
    static func writeHex(_ value: UInt64, to buffer: UnsafeMutableBufferPointer<UInt8>, at: Int) -> Int {
        precondition(at >= 0 && at + 16 <= buffer.count)
        let out = UnsafeMutableRawPointer(buffer.baseAddress! + at)
        out.storeBytes(of: hexDigits(UInt32(truncatingIfNeeded: value >> 32)).bigEndian, as: UInt64.self)
        out.storeBytes(of: hexDigits(UInt32(truncatingIfNeeded: value)).bigEndian, toByteOffset: 8, as: UInt64.self)
        return at + 16
    }

    /// The eight hex digits of `half` in the eight bytes of a word, the most significant digit in the top byte.
    @inline(__always)
    private static func hexDigits(_ half: UInt32) -> UInt64 {
        var nibbles = UInt64(half)
        nibbles = (nibbles | nibbles << 16) & 0x0000_FFFF_0000_FFFF
        nibbles = (nibbles | nibbles << 8) & 0x00FF_00FF_00FF_00FF
        nibbles = (nibbles | nibbles << 4) & 0x0F0F_0F0F_0F0F_0F0F
        // 1 in each byte whose nibble is 10 or more: those become letters ('a' is 0x27 past '0' + 10).
        let letters = ((nibbles &+ 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101
        return nibbles &+ 0x3030_3030_3030_3030 &+ letters &* 0x27
    }
}

/// A `traceparent` value as the gateway sends it (`00-TRACEID-SPANID-FF`, 55 bytes), held inline. As a string, 55
/// bytes are past the inline small-string size: a heap allocation on every request, made for the access record,
/// which needs the text only when a line is written (``string``).
struct Traceparent: Sendable {
    static let count = 55
    private var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0)

    /// `write` writes the value's bytes into a buffer of 56 and returns their count, which must be 55.
    init(writing write: (UnsafeMutableBufferPointer<UInt8>) -> Int) {
        let written = withUnsafeMutableBytes(of: &words) { raw in raw.withMemoryRebound(to: UInt8.self, write) }
        precondition(written == Self.count, "a traceparent is 55 bytes, not \(written)")
    }

    /// Runs `body` on the value's 55 bytes.
    func withBytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try withUnsafeBytes(of: words) { raw in
            try raw.withMemoryRebound(to: UInt8.self) { try body(UnsafeBufferPointer(rebasing: $0[..<Self.count])) }
        }
    }

    /// The value as a string.
    var string: String { withBytes { String(decoding: $0, as: UTF8.self) } }
}
