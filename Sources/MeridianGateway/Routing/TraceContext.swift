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

    /// Parses a `traceparent` header; `nil` for anything malformed (then a new trace starts).
    public init?(traceparent: String) {
        let parts = traceparent.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff",
              parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
              parts.allSatisfy({ $0.allSatisfy(\.isHexDigit) }) else { return nil }
        if parts[0] == "00" && parts.count != 4 { return nil }
        let trace = parts[1].lowercased(), span = parts[2].lowercased()
        guard trace != String(repeating: "0", count: 32), span != String(repeating: "0", count: 16) else { return nil }
        traceID = trace
        spanID = span
        flags = parts[3].lowercased()
    }

    /// Creates a context from parts.
    public init(traceID: String, spanID: String, flags: String = "01") {
        self.traceID = traceID
        self.spanID = spanID
        self.flags = flags
    }

    /// A new trace (sampled) with random ids.
    public static func start(using generator: inout some RandomNumberGenerator) -> TraceContext {
        TraceContext(traceID: hex(generator.next() | 1) + hex(generator.next()), spanID: hex(generator.next() | 1), flags: "01")
    }

    /// The same trace with a new span id: what this hop sends on.
    public func nextHop(using generator: inout some RandomNumberGenerator) -> TraceContext {
        TraceContext(traceID: traceID, spanID: Self.hex(generator.next() | 1), flags: flags)
    }

    /// The header value.
    public var traceparent: String { "00-\(traceID)-\(spanID)-\(flags)" }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
