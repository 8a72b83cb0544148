import NIOHTTP1

extension HTTPHeaders {
    /// Hop-by-hop headers (RFC 9110 7.6.1) a proxy must not forward, plus any the `connection` header names.
    /// `transfer-encoding` is kept: the HTTP/1 encoders frame the body by it and the HTTP/2 codecs drop it.
    ///
    /// One scan finds what to drop (usually nothing, or a `connection: keep-alive`); only then are the headers copied
    /// once without it. This runs twice per request (request and response).
    mutating func removeHopByHop() {
        var named: [String] = []
        var found = false
        var keepsTrailers = false
        for (name, value) in self {
            guard Self.isHopByHop(name) else { continue }
            found = true
            if name.utf8.count == 10, name.asciiLowercased == "connection" {
                for token in value.split(separator: ",") {
                    let token = String(token).trimmingOptionalWhitespace.asciiLowercased
                    if !token.isEmpty && token != "transfer-encoding" && token != "te" && token != "trailer" { named.append(token) }
                }
            } else if name.utf8.count == 2, value.asciiLowercased.contains("trailers") {
                // `te` may only say `trailers` on HTTP/2, and gRPC needs exactly that end to end.
                keepsTrailers = true
            }
        }
        guard found else { return }
        var kept = HTTPHeaders()
        kept.reserveCapacity(count)
        for (name, value) in self where !Self.isHopByHop(name) {
            if !named.isEmpty, named.contains(name.asciiLowercased) { continue }
            kept.add(name: name, value: value)
        }
        if keepsTrailers { kept.add(name: "te", value: "trailers") }
        self = kept
    }

    /// Sets each of `fields` (lowercase names), replacing any field of that name: one scan finds whether any is
    /// there (usually none, or the client's `traceparent`), where `replaceOrAdd` per field would scan four times.
    mutating func replaceOrAdd(meshFields fields: [(name: String, value: String)]) {
        let present = contains { header in
            fields.contains { $0.name.utf8.count == header.name.utf8.count && $0.name == header.name.asciiLowercased }
        }
        if present {
            for field in fields { remove(name: field.name) }
        }
        for field in fields { add(name: field.name, value: field.value) }
    }

    private static let hopByHopNames = ["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
                                        "upgrade", "expect", "http2-settings", "te"]

    /// Whether `name` is one of ``hopByHopNames`` (ASCII case-insensitive); most names fail on their length alone.
    private static func isHopByHop(_ name: String) -> Bool {
        switch name.utf8.count {
        case 2, 6, 7, 10, 14, 16, 18, 19: return hopByHopNames.contains(name.asciiLowercased)
        default: return false
        }
    }
}
