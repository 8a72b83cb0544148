import NIOHTTP1

extension HTTPHeaders {
    /// The value of a `transfer-encoding` field that names a coding other than `chunked` (`gzip, chunked`), or `nil`.
    /// Such a body cannot cross the mesh: HTTP/2 has no transfer codings, so the coding would be dropped and the
    /// receiver would read compressed bytes as the body (RFC 9112 6.1: a server answers a coding it does not
    /// handle with 501). Compression end to end is `content-encoding`'s.
    var unsupportedTransferCoding: String? {
        for (name, value) in self where HeaderName.known(name) == .transferEncoding && !Self.isChunkedOnly(value) { return value }
        return nil
    }

    /// Whether a `transfer-encoding` value is `chunked` alone (any case, optional whitespace around it).
    static func isChunkedOnly(_ value: String) -> Bool {
        String(value.trimmingOptionalWhitespace).equalsIgnoringASCIICase("chunked")
    }

    /// Hop-by-hop headers (RFC 9110 7.6.1) a proxy must not forward, plus any the `connection` header names.
    /// `transfer-encoding` is kept: the HTTP/1 encoders frame the body by it and the HTTP/2 codecs drop it.
    ///
    /// One scan finds what to drop (usually nothing, or a `connection: keep-alive`); only then are the headers copied
    /// once without it. This runs twice per request (request and response).
    mutating func removeHopByHop() {
        guard let fields = Self.relayedFields(of: self, droppingMeshFields: false) else { return }
        self = HTTPHeaders(fields)
    }

    /// Drops the hop-by-hop fields (as ``removeHopByHop()``) and the mesh fields a client sent, whatever their case (a
    /// client cannot forge them), then appends `fields`, the gateway's own (``HeaderName/Known/isMeshField``, lowercase
    /// names): one pass, and one `HTTPHeaders` built from an array (`add(name:value:)` checks every name,
    /// `remove(name:)` scans every field).
    mutating func relay(settingMeshFields fields: [(name: String, value: String)]) {
        assert(fields.allSatisfy { HeaderName.known($0.name)?.isMeshField == true }, "not a mesh field")
        var kept = Self.relayedFields(of: self, droppingMeshFields: true, reserving: fields.count) ?? {
            var all: [(String, String)] = []
            all.reserveCapacity(count + fields.count)
            for (name, value) in self { all.append((name, value)) }
            return all
        }()
        for field in fields { kept.append((field.name, field.value)) }
        self = HTTPHeaders(kept)
    }

    /// The fields of `headers` to relay, or `nil` when all of them are: without the hop-by-hop ones and those the
    /// `connection` field names (but the framing fields `transfer-encoding` and `content-length`, `host`, `te` and
    /// `trailer`: dropping a length would let a body be read as the next request), with `te: trailers` kept (HTTP/2 allows
    /// only that `te`, and gRPC needs it end to end), and without the mesh fields when `droppingMeshFields`.
    private static func relayedFields(of headers: HTTPHeaders, droppingMeshFields: Bool,
                                      reserving extra: Int = 0) -> [(String, String)]? {
        var keepsTrailers = false
        var named: [String] = []
        // The first 64 fields to drop, by position (the second pass need not recognise names again).
        var dropped: UInt64 = 0
        var droppedBeyond64 = false
        for (index, (name, value)) in headers.enumerated() {
            guard let known = HeaderName.known(name), known.isHopByHop || (droppingMeshFields && known.isMeshField) else { continue }
            if index < 64 { dropped |= 1 << UInt64(index) } else { droppedBeyond64 = true }
            switch known {
            case .connection:
                Self.forEachListElement(of: value) { token in
                    guard !token.isEmpty, !token.equalsIgnoringASCIICase("close"), !token.equalsIgnoringASCIICase("trailer"),
                          !token.equalsIgnoringASCIICase("content-length")
                    else { return }
                    if let known = HeaderName.known(token), known.isHopByHop || known == .transferEncoding || known == .host { return }
                    named.append(HeaderName.lowercased(token))
                }
            case .te:
                if value.utf8.count == 8 ? value.equalsIgnoringASCIICase("trailers") : value.asciiLowercased.contains("trailers") {
                    keepsTrailers = true
                }
            default:
                break
            }
        }
        guard dropped != 0 || droppedBeyond64 else { return nil }
        var kept: [(String, String)] = []
        kept.reserveCapacity(headers.count + extra)
        for (index, (name, value)) in headers.enumerated() {
            if index < 64 {
                if dropped & (1 << UInt64(index)) != 0 { continue }
            } else if let known = HeaderName.known(name), known.isHopByHop || (droppingMeshFields && known.isMeshField) {
                continue
            }
            if !named.isEmpty, named.contains(where: { name.equalsIgnoringASCIICase($0) }) { continue }
            kept.append((name, value))
        }
        if keepsTrailers { kept.append(("te", "trailers")) }
        return kept
    }

    /// Calls `body` with each element of the comma-separated list `value`, without optional whitespace (one
    /// `keep-alive` needs no array of substrings).
    private static func forEachListElement(of value: String, _ body: (String) -> Void) {
        var rest = Substring(value)
        while let comma = rest.utf8.firstIndex(of: UInt8(ascii: ",")) {
            body(String(rest[..<comma].trimmingOptionalWhitespace))
            rest = rest[rest.utf8.index(after: comma)...]
        }
        body(String(rest.trimmingOptionalWhitespace))
    }
}
