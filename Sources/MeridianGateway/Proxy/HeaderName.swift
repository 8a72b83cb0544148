/// Header names recognised and lowercased without allocating. Every request and response passes its fields through
/// these: lowercasing each name into a new string to compare it cost about 10 % of the instructions of a gateway
/// (callgrind, two gateways, nginx answering with eight mixed-case fields).
enum HeaderName {
    /// A field the gateway treats specially, recognised by its length and then an ASCII case-insensitive comparison.
    enum Known: Equatable {
        case connection, keepAlive, proxyConnection, proxyAuthenticate, proxyAuthorization, upgrade, expect, http2Settings, te
        case transferEncoding, contentLength, host, traceparent
        case meridianSourceCluster, meridianService, meridianDataClass
        /// Read by the exchange (a gRPC call; a request the client says may be sent again), relayed as they are.
        case contentType, meridianRetry

        /// The name, lowercase (a literal: no allocation).
        var name: String {
            switch self {
            case .connection: "connection"
            case .keepAlive: "keep-alive"
            case .proxyConnection: "proxy-connection"
            case .proxyAuthenticate: "proxy-authenticate"
            case .proxyAuthorization: "proxy-authorization"
            case .upgrade: "upgrade"
            case .expect: "expect"
            case .http2Settings: "http2-settings"
            case .te: "te"
            case .transferEncoding: "transfer-encoding"
            case .contentLength: "content-length"
            case .host: "host"
            case .traceparent: "traceparent"
            case .meridianSourceCluster: "meridian-source-cluster"
            case .meridianService: "meridian-service"
            case .meridianDataClass: "meridian-data-class"
            case .contentType: "content-type"
            case .meridianRetry: "meridian-retry"
            }
        }

        /// Fields that describe one connection (RFC 9110, 7.6.1, and what proxies drop besides): never relayed.
        /// `transfer-encoding` is not among them: the HTTP/1 codecs frame bodies with it.
        var isHopByHop: Bool {
            switch self {
            case .connection, .keepAlive, .proxyConnection, .proxyAuthenticate, .proxyAuthorization, .upgrade, .expect,
                 .http2Settings, .te:
                return true
            default:
                return false
            }
        }

        /// Connection-specific fields HTTP/2 forbids (RFC 9113, 8.2.2; `te` apart): dropped when a head is translated to
        /// HTTP/2, refused in a received block.
        var isConnectionSpecific: Bool {
            switch self {
            case .connection, .keepAlive, .proxyConnection, .transferEncoding, .upgrade: return true
            default: return false
            }
        }

        /// One of the fields the gateway sets on every request it relays (``RequestTarget/Header``), replacing any a
        /// client sent.
        var isMeshField: Bool {
            switch self {
            case .meridianSourceCluster, .meridianService, .meridianDataClass, .traceparent: return true
            default: return false
            }
        }
    }

    /// What `name` is, in any ASCII case; `nil` for every other field (most fail on their length alone).
    static func known(_ name: String) -> Known? {
        switch name.utf8.count {
        case 2, 4, 6, 7, 10, 11, 12, 14, 16, 17, 18, 19, 23: break
        default: return nil
        }
        return name.withUTF8Bytes(known(bytes:))
    }

    /// ``known(_:)`` on bytes (``HTTP1Parser``'s field names).
    static func known(bytes name: UnsafeBufferPointer<UInt8>) -> Known? {
        switch name.count {
        case 2: return name.equalsIgnoringASCIICase("te") ? .te : nil
        case 4: return name.equalsIgnoringASCIICase("host") ? .host : nil
        case 6: return name.equalsIgnoringASCIICase("expect") ? .expect : nil
        case 7: return name.equalsIgnoringASCIICase("upgrade") ? .upgrade : nil
        case 10:
            if name.equalsIgnoringASCIICase("connection") { return .connection }
            return name.equalsIgnoringASCIICase("keep-alive") ? .keepAlive : nil
        case 11: return name.equalsIgnoringASCIICase("traceparent") ? .traceparent : nil
        case 12: return name.equalsIgnoringASCIICase("content-type") ? .contentType : nil
        case 14:
            if name.equalsIgnoringASCIICase("content-length") { return .contentLength }
            if name.equalsIgnoringASCIICase("meridian-retry") { return .meridianRetry }
            return name.equalsIgnoringASCIICase("http2-settings") ? .http2Settings : nil
        case 16:
            if name.equalsIgnoringASCIICase("proxy-connection") { return .proxyConnection }
            return name.equalsIgnoringASCIICase("meridian-service") ? .meridianService : nil
        case 17: return name.equalsIgnoringASCIICase("transfer-encoding") ? .transferEncoding : nil
        case 18: return name.equalsIgnoringASCIICase("proxy-authenticate") ? .proxyAuthenticate : nil
        case 19:
            if name.equalsIgnoringASCIICase("proxy-authorization") { return .proxyAuthorization }
            return name.equalsIgnoringASCIICase("meridian-data-class") ? .meridianDataClass : nil
        case 23: return name.equalsIgnoringASCIICase("meridian-source-cluster") ? .meridianSourceCluster : nil
        default: return nil
        }
    }

    /// `name` in lowercase, as HTTP/2 wants it: `name` itself when it has no uppercase letter, a string literal for the
    /// fields servers and clients commonly send (no allocation either way), a new string otherwise.
    static func lowercased(_ name: String) -> String {
        switch name.withUTF8Bytes(lowercasing(bytes:)) {
        case .unchanged: return name
        case .literal(let literal): return literal
        case .convert: return name.asciiLowercased
        }
    }

    /// A name read from bytes: the lowercase literal of a common field in any case (no allocation, and lowercase
    /// already for HTTP/2), a new string with the bytes as they are otherwise.
    static func string(_ name: UnsafeBufferPointer<UInt8>) -> String {
        commonLiteral(name) ?? String(decoding: name, as: UTF8.self)
    }

    /// The lowercase literal of a common field `name` spells in any case, if it is one.
    private static func commonLiteral(_ name: UnsafeBufferPointer<UInt8>) -> String? {
        guard name.count < commonByLength.count else { return nil }
        for (spelling, literal) in commonByLength[name.count] where name.equalsIgnoringASCIICase(spelling) { return literal }
        return nil
    }

    private enum Lowercasing {
        case unchanged
        case literal(String)
        case convert
    }

    private static func lowercasing(bytes name: UnsafeBufferPointer<UInt8>) -> Lowercasing {
        guard name.contains(where: \.isASCIIUppercase) else { return .unchanged }
        return commonLiteral(name).map(Lowercasing.literal) ?? .convert
    }

    /// Common fields by length (lowercase): what nginx, Envoy, model servers and HTTP clients send.
    private static let commonByLength: [[(spelling: StaticString, literal: String)]] = {
        let names: [StaticString] = [
            "accept", "accept-encoding", "accept-language", "accept-ranges", "access-control-allow-origin", "age",
            "authorization", "cache-control", "connection", "content-disposition", "content-encoding", "content-length",
            "content-range", "content-type", "cookie", "date", "etag", "expires", "grpc-encoding", "grpc-message",
            "grpc-status", "host", "if-modified-since", "if-none-match", "keep-alive", "last-modified", "location",
            "origin", "pragma", "range", "referer", "retry-after", "server", "set-cookie", "strict-transport-security",
            "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "www-authenticate",
            "x-content-type-options", "x-forwarded-for", "x-forwarded-proto", "x-frame-options", "x-request-id",
            "traceparent", "tracestate", "meridian-data-class", "meridian-service", "meridian-source-cluster",
            "meridian-retry", "expect", "grpc-timeout", "content-security-policy",
        ]
        var byLength = [[(spelling: StaticString, literal: String)]](repeating: [], count: names.map(\.utf8CodeUnitCount).max()! + 1)
        for name in names { byLength[name.utf8CodeUnitCount].append((name, name.description)) }
        return byLength
    }()
}

extension String {
    /// Calls `body` with the string's UTF-8 bytes. Unlike `withUTF8` (mutating, so called on a copy of the value, as
    /// `TraceContext` and `RequestTarget` do once per request), it costs nothing beyond `body`: header names pass here
    /// several times per field (`withUTF8` on copies added about 0.3 % of a gateway's instructions, callgrind).
    func withUTF8Bytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        if let result = try utf8.withContiguousStorageIfAvailable(body) { return result }
        return try Array(utf8).withUnsafeBufferPointer(body)
    }

    /// Copies the string's UTF-8 bytes into `out` at offset `at` (which must have room for them); returns the offset
    /// after them. For strings written into a buffer sized beforehand (``HTTP1HeadWriter``, ``TraceContext``).
    func copyUTF8(to out: UnsafeMutableRawBufferPointer, at: Int) -> Int {
        withUTF8Bytes { bytes in
            UnsafeMutableRawBufferPointer(rebasing: out[at..<(at + bytes.count)]).copyMemory(from: UnsafeRawBufferPointer(bytes))
            return at + bytes.count
        }
    }

    /// Whether this string is `lowercase` (lowercase ASCII) in any ASCII case: a byte comparison, no new string.
    func equalsIgnoringASCIICase(_ lowercase: StaticString) -> Bool {
        guard utf8.count == lowercase.utf8CodeUnitCount else { return false }
        return withUTF8Bytes { $0.equalsIgnoringASCIICase(lowercase) }
    }

    /// Whether this string is `lowercase` (lowercase ASCII) in any ASCII case: a byte comparison, no new string.
    /// (Labelled: a string literal argument goes to the `StaticString` version, which compares eight bytes at a time.)
    func equalsIgnoringASCIICase(string lowercase: String) -> Bool {
        guard utf8.count == lowercase.utf8.count else { return false }
        return utf8.elementsEqual(lowercase.utf8) { $0.asciiLowercased == $1 }
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// Whether these bytes spell `lowercase` (lowercase ASCII) in any ASCII case: eight bytes at a time
    /// (``asciiLowercased(_:)``), the last eight overlapping those before; one by one below eight. Every header
    /// name is classified through here (``HeaderName``), several times per request.
    func equalsIgnoringASCIICase(_ lowercase: StaticString) -> Bool {
        let count = self.count
        guard count == lowercase.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawPointer(lowercase.utf8Start)
        guard count >= 8, let base = baseAddress.map(UnsafeRawPointer.init) else {
            for index in 0..<count where self[index].asciiLowercased != expected.load(fromByteOffset: index, as: UInt8.self) { return false }
            return true
        }
        var offset = 0
        while true {
            let word = Self.asciiLowercased(base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            guard word == expected.loadUnaligned(fromByteOffset: offset, as: UInt64.self) else { return false }
            if offset == count - 8 { return true }
            offset = Swift.min(offset + 8, count - 8)
        }
    }

    /// The eight bytes of `word`, each ASCII-lowercased (`A`-`Z` only; other bytes, and bytes of 0x80 and above, as
    /// they are).
    @inline(__always)
    static func asciiLowercased(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let low = word & (0x7F &* ones)
        // The top bit of each byte: set from 'A' (0x41) up, and from past 'Z' (0x5B) up; no carry crosses a byte.
        let fromA = low &+ ((0x80 - 0x41) &* ones)
        let pastZ = low &+ ((0x80 - 0x5B) &* ones)
        let upper = (fromA ^ pastZ) & ~word & (0x80 &* ones)
        return word | (upper >> 2)
    }
}
