import NIOHTTP1

extension HeaderFields {
    /// Whether a `transfer-encoding` value is `chunked` alone (any case, optional whitespace around it).
    static func isChunkedOnly(bytes value: UnsafeBufferPointer<UInt8>) -> Bool {
        value.trimmingOptionalWhitespace.equalsIgnoringASCIICase("chunked")
    }

    /// Hop-by-hop headers (RFC 9110 7.6.1) a proxy must not forward, plus any the `connection` header names.
    /// `transfer-encoding` is kept: the HTTP/1 encoders frame the body by it and the HTTP/2 codecs drop it.
    ///
    /// One scan; the fields' bytes stay where they are (a field dropped is an entry removed). This runs twice per
    /// request (request and response).
    mutating func removeHopByHop() {
        _ = dropHopByHop(droppingMeshFields: false, framingOf: nil)
    }

    /// What an HTTP/1.x message's fields say of its framing and its connection (``removeHopByHop(version:)``).
    struct Framing {
        /// The value of a `transfer-encoding` field that names a coding other than `chunked` (`gzip, chunked`), or
        /// `nil`. Such a body cannot cross the mesh: HTTP/2 has no transfer codings, so the coding would be dropped
        /// and the receiver would read compressed bytes as the body (RFC 9112 6.1: a server answers a coding it does
        /// not handle with 501). Compression end to end is `content-encoding`'s.
        var unsupportedTransferCoding: String?
        /// ``keepsAlive(version:)``.
        var keepsAlive: Bool
    }

    /// ``removeHopByHop()`` for a message of `version` (an endpoint's response), and in the same pass over the fields
    /// its ``Framing/unsupportedTransferCoding`` and whether it ``keepsAlive(version:)``.
    mutating func removeHopByHop(version: HTTPVersion) -> Framing {
        dropHopByHop(droppingMeshFields: false, framingOf: version)!
    }

    /// Drops the hop-by-hop fields (as ``removeHopByHop()``) and the mesh fields a client sent, whatever their case (a
    /// client cannot forge them), then appends `fields`, the gateway's own (``HeaderName/Known/isMeshField``, lowercase
    /// names, classified). One pass.
    mutating func relay(settingMeshFields fields: [Field]) {
        assert(fields.allSatisfy { $0.known?.isMeshField == true }, "not a mesh field")
        _ = dropHopByHop(droppingMeshFields: true, framingOf: nil)
        for field in fields { append(field) }
    }

    /// ``relay(settingMeshFields:)`` with the four mesh fields the gateway sets on every request it relays, appended
    /// straight from their values (no array of fields per request), the `traceparent` from its inline bytes.
    mutating func relay(sourceCluster: String, service: String, dataClass: String, traceparent: Traceparent) {
        _ = dropHopByHop(droppingMeshFields: true, framingOf: nil)
        append(name: RequestTarget.Header.sourceCluster, value: sourceCluster, known: .meridianSourceCluster)
        append(name: RequestTarget.Header.service, value: service, known: .meridianService)
        append(name: RequestTarget.Header.dataClass, value: dataClass, known: .meridianDataClass)
        RequestTarget.Header.traceparent.withUTF8Bytes { name in
            traceparent.withBytes { append(name: name, value: $0, known: .traceparent) }
        }
    }

    /// Drops, in place, the hop-by-hop fields and those the `connection` field names (but the framing fields
    /// `transfer-encoding` and `content-length`, `host`, `te` and `trailer`: dropping a length would let a body be read
    /// as the next request), with `te: trailers` kept (HTTP/2 allows only that `te`, and gRPC needs it end to end), and
    /// the mesh fields when `droppingMeshFields`. One pass over the fields, and one over the entries when one is
    /// dropped. With a `version`, returns what the fields say of the framing and the connection of a message of that
    /// version.
    private mutating func dropHopByHop(droppingMeshFields: Bool, framingOf version: HTTPVersion?) -> Framing? {
        var framing = version.map { Framing(unsupportedTransferCoding: nil, keepsAlive: Self.persistent($0)) }
        var keepsTrailers = false
        var dropsAny = false
        var named: [String] = []
        let entries = self.entries
        withBytes { bytes in
            for entry in entries {
                let known = entry.known
                guard known != nil else { continue }
                let value = UnsafeBufferPointer(rebasing: bytes[entry.value])
                if let version {
                    if known == .transferEncoding, framing?.unsupportedTransferCoding == nil, !Self.isChunkedOnly(bytes: value) {
                        framing?.unsupportedTransferCoding = String(decoding: value, as: UTF8.self)
                    } else if known == .connection, Self.names(value, Self.persistent(version) ? "close" : "keep-alive") {
                        framing?.keepsAlive = !Self.persistent(version)
                    }
                }
                guard let known, known.isHopByHop || (droppingMeshFields && known.isMeshField) else { continue }
                dropsAny = true
                switch known {
                case .connection:
                    Self.forEachListElement(of: value) { token in
                        guard !token.isEmpty, !token.equalsIgnoringASCIICase("close"), !token.equalsIgnoringASCIICase("trailer"),
                              !token.equalsIgnoringASCIICase("content-length")
                        else { return }
                        if let known = HeaderName.known(bytes: token), known.isHopByHop || known == .transferEncoding || known == .host { return }
                        named.append(String(decoding: token, as: UTF8.self).asciiLowercased)
                    }
                case .te:
                    if value.count == 8
                        ? value.equalsIgnoringASCIICase("trailers")
                        : String(decoding: value, as: UTF8.self).asciiLowercased.contains("trailers") {
                        keepsTrailers = true
                    }
                default:
                    break
                }
            }
        }
        guard dropsAny else { return framing }
        keepEntries { entry in
            guard let known = entry.known else { return true }
            return !(known.isHopByHop || (droppingMeshFields && known.isMeshField))
        }
        if !named.isEmpty {
            // Fields the `connection` field names, before it or after it.
            let bytes = self.bytes
            keepEntries { entry in
                bytes.withUnsafeBufferPointer { bytes in
                    let name = UnsafeBufferPointer(rebasing: bytes[entry.name])
                    return !named.contains { name.equalsIgnoringASCIICase(string: $0) }
                }
            }
        }
        if keepsTrailers { append(Field(name: "te", value: "trailers", known: .te)) }
        return framing
    }

    /// Calls `body` with the bytes of each element of the comma-separated list `value`, without optional whitespace
    /// (no array of substrings, and no string per element: `keepsAlive` runs on every HTTP/1 head that has a
    /// `connection` field, and a string and a substring per token cost about 2,000 instructions).
    fileprivate static func forEachListElement(of bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var start = 0
        while start <= bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: ",") { end += 1 }
            body(UnsafeBufferPointer(rebasing: bytes[start..<end]).trimmingOptionalWhitespace)
            start = end + 1
        }
    }
}

extension HeaderFields {
    /// Whether a message with these fields leaves its connection open (RFC 9112 9.3): for HTTP/1.1 unless
    /// `connection` names `close`, for HTTP/1.0 only when it names `keep-alive`.
    func keepsAlive(version: HTTPVersion) -> Bool {
        let persistent = Self.persistent(version)
        for index in entries.indices where known(at: index) == .connection {
            if withValue(at: index, { Self.names($0, persistent ? "close" : "keep-alive") }) { return !persistent }
        }
        return persistent
    }

    /// Whether a connection of `version` stays open unless told otherwise (HTTP/1.1 and later).
    fileprivate static func persistent(_ version: HTTPVersion) -> Bool {
        version.major > 1 || (version.major == 1 && version.minor >= 1)
    }

    /// Whether the `connection` value `value` names `option` (any case).
    fileprivate static func names(_ value: UnsafeBufferPointer<UInt8>, _ option: StaticString) -> Bool {
        var named = false
        forEachListElement(of: value) { token in named = named || token.equalsIgnoringASCIICase(option) }
        return named
    }
}

extension HeaderFields {
    /// What a ``ProxyExchange`` reads of its client's request fields (``exchangeFields(version:)``).
    struct ExchangeFields {
        /// ``keepsAlive(version:)``.
        var keepsAlive: Bool
        /// The first `content-type` starts with `application/grpc` (any case): a gRPC call, which goes to an
        /// endpoint over HTTP/2.
        var isGRPC = false
        /// The first `meridian-retry` is `true` (any case): the client says the request may be sent again.
        var asksRetry = false
    }

    /// ``ExchangeFields``, in one pass over the fields.
    func exchangeFields(version: HTTPVersion) -> ExchangeFields {
        let persistent = Self.persistent(version)
        var read = ExchangeFields(keepsAlive: persistent)
        var sawContentType = false
        var sawRetry = false
        for index in entries.indices {
            switch known(at: index) {
            case .connection:
                if withValue(at: index, { Self.names($0, persistent ? "close" : "keep-alive") }) { read.keepsAlive = !persistent }
            case .contentType where !sawContentType:
                sawContentType = true
                read.isGRPC = withValue(at: index) { bytes in
                    bytes.count >= 16 && UnsafeBufferPointer(rebasing: bytes[0..<16]).equalsIgnoringASCIICase("application/grpc")
                }
            case .meridianRetry where !sawRetry:
                sawRetry = true
                read.asksRetry = withValue(at: index) { $0.equalsIgnoringASCIICase("true") }
            default:
                break
            }
        }
        return read
    }
}
