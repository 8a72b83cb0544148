import NIOHPACK
import NIOHTTP2

/// The checks `NIOHTTP2Handler` makes on received header blocks when its `headerBlockValidation` is on (RFC 9113,
/// 8.2 and 8.3: names are lowercase tokens; no connection-specific fields; `te` only `trailers`; no NUL, CR or LF in a
/// value; known pseudo-headers, once each, before the regular fields, the mandatory ones present), with the same
/// errors, made by ``HTTP2MuxStream``'s owners on blocks from local h2c clients and endpoints.
///
/// NIO's validator cost a gateway about 8 % of its instructions for an h2c client's request (callgrind): it runs on
/// what it sends as well as what it receives, and builds substrings and compares strings for every field. What the
/// gateway sends was validated where it entered the mesh, and it writes pseudo-headers and lowercase names itself, so
/// the connections run with NIO's validation off (as the tunnel already did) and this pass runs on received blocks,
/// once, over each field's bytes.
extension HeaderFields {
    enum BlockKind {
        case request, response, trailers
    }

    func validate(as kind: BlockKind) throws {
        var seen = PseudoHeaderSet()
        var regularFieldsStarted = false
        var isConnect = false
        for index in entries.indices {
            let nameKind = withName(at: index, Self.classify(bytes:))
            var name: String { self.name(at: index) }
            var value: String { self.value(at: index) }
            switch nameKind {
            case .invalid:
                throw NIOHTTP2Errors.invalidHTTP2HeaderFieldName(name)
            case .pseudo(let pseudo):
                guard !regularFieldsStarted else { throw NIOHTTP2Errors.pseudoHeaderAfterRegularHeader(name) }
                guard let pseudo else { throw NIOHTTP2Errors.unknownPseudoHeader(name) }
                guard pseudo != .protocol else { throw NIOHTTP2Errors.unsupportedPseudoHeader(name) }
                guard !seen.contains(pseudo) else { throw NIOHTTP2Errors.duplicatePseudoHeader(name) }
                seen.insert(pseudo)
                guard withValue(at: index, Self.isValidPseudoHeaderValue) else { throw NIOHTTP2Errors.invalidPseudoHeaderValue(name: name, value: value) }
                if kind == .request {
                    if pseudo == .method { isConnect = withValue(at: index) { $0.equals("CONNECT") } }
                    if pseudo == .path, entries[index].valueCount == 0 { throw NIOHTTP2Errors.emptyPathHeader() }
                }
            case .regular:
                regularFieldsStarted = true
                if let known = known(at: index),
                   known.isConnectionSpecific || (known == .te && kind == .request && !withValue(at: index, { $0.equals("trailers") })) {
                    throw NIOHTTP2Errors.forbiddenHeaderField(name: name, value: value)
                }
                guard withValue(at: index, Self.isValidFieldValue) else { throw NIOHTTP2Errors.invalidHTTP2HeaderFieldValue(name: name, value: value) }
            }
        }
        let (allowed, mandatory): (PseudoHeaderSet, PseudoHeaderSet)
        switch kind {
        case .request where isConnect: (allowed, mandatory) = ([.method, .authority], [.method, .authority])
        case .request: (allowed, mandatory) = ([.method, .scheme, .authority, .path], [.method, .scheme, .path])
        case .response: (allowed, mandatory) = ([.status], [.status])
        case .trailers: (allowed, mandatory) = ([], [])
        }
        guard seen.isSubset(of: allowed), seen.isSuperset(of: mandatory) else {
            throw NIOHTTP2Errors.invalidPseudoHeaders(HPACKHeaders(fields.map { ($0.name, $0.value) }))
        }
    }

    private struct PseudoHeaderSet: OptionSet {
        var rawValue: UInt8
        static let path = Self(rawValue: 1 << 0)
        static let method = Self(rawValue: 1 << 1)
        static let scheme = Self(rawValue: 1 << 2)
        static let authority = Self(rawValue: 1 << 3)
        static let status = Self(rawValue: 1 << 4)
        static let `protocol` = Self(rawValue: 1 << 5)
    }

    private enum NameKind {
        case invalid
        /// A pseudo-header: which one, `nil` when unknown.
        case pseudo(PseudoHeaderSet?)
        case regular
    }

    private static func classify(bytes: UnsafeBufferPointer<UInt8>) -> NameKind {
        let pseudo = bytes.first == UInt8(ascii: ":")
        let base = UnsafeBufferPointer(rebasing: bytes[(pseudo ? 1 : 0)...])
        guard !base.isEmpty, isLowercaseToken(base) else { return .invalid }
        guard pseudo else { return .regular }
        // Lowercase already: compared exactly, by length first (six case-insensitive comparisons in turn cost about
        // 120 instructions per pseudo-header of an h2c client's request).
        switch base.count {
        case 4 where base.equals("path"): return .pseudo(.path)
        case 6 where base.equals("method"): return .pseudo(.method)
        case 6 where base.equals("scheme"): return .pseudo(.scheme)
        case 6 where base.equals("status"): return .pseudo(.status)
        case 9 where base.equals("authority"): return .pseudo(.authority)
        case 8 where base.equals("protocol"): return .pseudo(.protocol)
        default: return .pseudo(nil)
        }
    }

    /// Whether every byte of `name` is a `tchar` of RFC 9110 other than an uppercase letter (HTTP/2 names are
    /// lowercase). Eight bytes at a time while they are all lowercase letters, digits or `-`, as nearly every name's
    /// are (byte by byte, the check cost about 14 instructions a byte: some 1,400 per h2c request at east); a word
    /// with another byte is checked byte by byte.
    static func isLowercaseToken(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = name.baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        var index = 0
        while index + 8 <= name.count {
            if !commonNameBytes(raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)) {
                for offset in index..<(index + 8) where !name[offset].isLowercaseHTTPTokenByte { return false }
            }
            index += 8
        }
        while index < name.count {
            guard name[index].isLowercaseHTTPTokenByte else { return false }
            index += 1
        }
        return true
    }

    /// Whether each of the eight bytes of `word` is a lowercase letter, a digit or `-` (``ASCIIWord``).
    @inline(__always)
    static func commonNameBytes(_ word: UInt64) -> Bool {
        guard !ASCIIWord.hasHighBytes(word) else { return false }
        let letters = ASCIIWord.inRange(word, 0x61, 0x7A), digits = ASCIIWord.inRange(word, 0x30, 0x39)
        return letters | digits | ASCIIWord.inRange(word, 0x2D, 0x2D) == ASCIIWord.highs
    }

    /// No control character, space or DEL (NIO's `isValidPseudoHeaderValue`).
    private static func isValidPseudoHeaderValue(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        !value.contains { $0 <= 0x20 || $0 == 0x7F }
    }

    /// No NUL, LF or CR (RFC 9113, 8.2.1; NIO's `isValidFieldValue`).
    private static func isValidFieldValue(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        !value.contains { $0 == 0x00 || $0 == 0x0A || $0 == 0x0D }
    }
}
