/// Header names recognised without allocating. Every request and response passes its fields through these:
/// lowercasing each name into a new string to compare it cost about 10 % of the instructions of a gateway (callgrind,
/// two gateways, nginx answering with eight mixed-case fields). Names are lowercased for HTTP/2 as their bytes are
/// copied (``FieldBytes/appendLowercased(_:)``).
enum HeaderName {
    /// A field the gateway treats specially, recognised by its length and then an ASCII case-insensitive comparison.
    enum Known: Equatable {
        case connection, keepAlive, proxyConnection, proxyAuthenticate, proxyAuthorization, upgrade, expect, http2Settings, te
        case transferEncoding, contentLength, host, traceparent
        case meridianSourceCluster, meridianService, meridianDataClass
        /// Read by the exchange (a gRPC call; a request the client says may be sent again), relayed as they are.
        case contentType, meridianRetry

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

    /// Whether these bytes have an ASCII uppercase letter, eight at a time.
    var hasASCIIUppercase: Bool {
        guard let base = baseAddress.map(UnsafeRawPointer.init) else { return false }
        var offset = 0
        while offset + 8 <= count {
            let word = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            if Self.asciiLowercased(word) != word { return true }
            offset += 8
        }
        while offset < count {
            if self[offset].isASCIIUppercase { return true }
            offset += 1
        }
        return false
    }

    /// Copies these bytes to `out` with ASCII uppercase letters made lowercase (a name for HTTP/2), eight at a time.
    func copyASCIILowercased(to out: UnsafeMutableRawPointer) {
        guard let source = baseAddress else { return }
        let from = UnsafeRawPointer(source)
        var offset = 0
        while offset + 8 <= count {
            out.storeBytes(of: Self.asciiLowercased(from.loadUnaligned(fromByteOffset: offset, as: UInt64.self)), toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        while offset < count {
            out.storeBytes(of: source[offset].asciiLowercased, toByteOffset: offset, as: UInt8.self)
            offset += 1
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
