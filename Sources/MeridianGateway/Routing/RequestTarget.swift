import NIOHTTP1

/// What a request asks for: the service (from the `meridian-service` header, else the authority
/// `SERVICE.meridian[:port]`) and the data class (the `meridian-data-class` header, else the service's default class).
public struct RequestTarget: Sendable, Hashable {
    /// Header names the gateway reads and writes.
    public enum Header {
        public static let service = "meridian-service"
        public static let dataClass = "meridian-data-class"
        public static let sourceCluster = "meridian-source-cluster"
        public static let decision = "meridian-decision"
        public static let retry = "meridian-retry"
        public static let traceparent = "traceparent"
    }

    /// The domain suffix of service authorities.
    public static let serviceDomain = ".meridian"

    public var service: String
    /// The class named in the request, if any.
    public var requestedClass: String?

    public init(service: String, requestedClass: String?) {
        self.service = service
        self.requestedClass = requestedClass
    }

    /// Reads the target from a request head; `nil` when no service is named.
    /// (One pass over the fields for the three it reads, the first of each, where `first(name:)` took three; each
    /// string made once, from the value's bytes trimmed and lowercased there: a string per field read, then trimmed,
    /// then lowercased, cost about 900 instructions per request.)
    /// (The head is borrowed: an initializer takes its arguments owned, so the caller copied the head for it and this
    /// destroyed the copy.)
    init?(head: borrowing RequestHead) {
        let fields = Self.fields(of: head)
        guard let service = Self.withService(of: head, fields, { String(decoding: $0, as: UTF8.self).asciiLowercased }) else { return nil }
        self.service = service   // (`asciiLowercased`: the string itself when nothing is uppercase)
        requestedClass = Self.withRequestedClass(of: head, fields) { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether `head` names `service` and `requestedClass` as ``init(head:)`` reads them, told on the fields' bytes
    /// without making a string (the gateway's kept admission is matched so on every request). `false` also when the
    /// bytes cannot tell (a name with a non-ASCII byte, whose lowercasing is Unicode's): the caller then reads the
    /// target with its strings.
    static func names(_ head: borrowing RequestHead, service: String, requestedClass: String?) -> Bool {
        let fields = fields(of: head)
        guard withService(of: head, fields, { lowercasedASCII($0, equals: service) }) == true else { return false }
        return withRequestedClass(of: head, fields) { bytes in requestedClass.map { bytes.equals($0) } ?? false } ?? (requestedClass == nil)
    }

    /// `body` on the bytes that name the service, as they are: the `meridian-service` header's, trimmed, unless blank;
    /// else the authority's `SERVICE` (``service(fromAuthority:)-(String)``). `nil` when neither names one. (Both
    /// ``init(head:)`` and ``names(_:service:requestedClass:)`` read the service through here.)
    private static func withService<Result>(of head: borrowing RequestHead, _ fields: Fields,
                                            _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result? {
        if let named = fields.named, let result = head.headers.withValue(at: named, { bytes -> Result? in
            let trimmed = bytes.trimmingOptionalWhitespace
            return trimmed.isEmpty ? nil : body(trimmed)
        }) {
            return result
        }
        guard let host = fields.host else { return nil }
        return head.headers.withValue(at: host) { serviceName(fromAuthority: $0).map(body) }
    }

    /// `body` on the `meridian-data-class` header's bytes, trimmed, kept as they are; `nil` when it is absent or blank.
    private static func withRequestedClass<Result>(of head: borrowing RequestHead, _ fields: Fields,
                                                   _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result? {
        guard let dataClass = fields.dataClass else { return nil }
        return head.headers.withValue(at: dataClass) { bytes -> Result? in
            let trimmed = bytes.trimmingOptionalWhitespace
            return trimmed.isEmpty ? nil : body(trimmed)
        }
    }

    private typealias Fields = (named: Int?, host: Int?, dataClass: Int?)

    /// The first `meridian-service`, `host` and `meridian-data-class` fields of `head`, in one pass.
    private static func fields(of head: borrowing RequestHead) -> Fields {
        var named: Int?
        var host: Int?
        var dataClass: Int?
        for index in head.headers.entries.indices {
            switch head.headers.known(at: index) {
            case .meridianService where named == nil: named = index
            case .host where host == nil: host = index
            case .meridianDataClass where dataClass == nil: dataClass = index
            default: break
            }
        }
        return (named, host, dataClass)
    }

    /// Whether `bytes`, all ASCII, lowercased are `lowercase`'s bytes.
    private static func lowercasedASCII(_ bytes: UnsafeBufferPointer<UInt8>, equals lowercase: String) -> Bool {
        lowercase.withUTF8Bytes { expected in
            expected.count == bytes.count && zip(bytes, expected).allSatisfy { $0 < 0x80 && $0.asciiLowercased == $1 }
        }
    }

    /// `llama.meridian:15001` -> `llama`; `nil` for any other authority.
    public static func service(fromAuthority authority: String) -> String? {
        // On the UTF-8 bytes with integer offsets: String.UTF8View index arithmetic cost more than the rest of
        // admission on east's profile.
        authority.withUTF8Bytes(service(fromAuthority:))
    }

    /// ``service(fromAuthority:)-(String)`` on the authority's bytes (a field's value, with no string made for it).
    static func service(fromAuthority bytes: UnsafeBufferPointer<UInt8>) -> String? {
        serviceName(fromAuthority: bytes).map { String(decoding: $0, as: UTF8.self).asciiLowercased }   // (the string itself when nothing is uppercase)
    }

    /// The bytes of the service an authority names (`llama` of `LLAMA.meridian:15001`, as they are), or `nil`.
    private static func serviceName(fromAuthority bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8>? {
        var end = bytes.count
        if bytes.first != UInt8(ascii: "["), let colon = bytes.lastIndex(of: UInt8(ascii: ":")) { end = colon }
        if end > 0, bytes[end - 1] == UInt8(ascii: ".") { end -= 1 }
        let suffix = serviceDomainBytes
        guard end > suffix.count else { return nil }
        let nameEnd = end - suffix.count
        for offset in 0..<suffix.count where bytes[nameEnd + offset].asciiLowercased != suffix[offset] { return nil }
        let name = UnsafeBufferPointer(rebasing: bytes[0..<nameEnd])
        guard !name.contains(UInt8(ascii: ".")) else { return nil }
        return name
    }

    private static let serviceDomainBytes = Array(serviceDomain.utf8)

    /// Whether `authority` (a `host` field or `:authority`) has only the characters RFC 3986 allows in a host and
    /// port: letters, digits, `-._~`, `!$&'()*+,;=`, `%` (percent-encoding), `:`, `[` and `]` (no userinfo: `host` is
    /// `uri-host [":" port]`, RFC 9110 7.2). A space, a slash, an `@`, a quote or a non-ASCII byte is not relayed:
    /// towards an h2c endpoint it becomes `:authority` unchanged.
    public static func isValidAuthority(_ authority: String) -> Bool {
        // (On the bytes: `utf8.allSatisfy` walked the string's view, about 45 instructions a byte.)
        authority.withUTF8Bytes(isValidAuthority(_:))
    }

    /// ``isValidAuthority(_:)-(String)`` on the authority's bytes.
    static func isValidAuthority(_ authority: UnsafeBufferPointer<UInt8>) -> Bool {
        authority.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "!"), UInt8(ascii: "$"),
                 UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"),
                 UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: "%"), UInt8(ascii: ":"), UInt8(ascii: "["),
                 UInt8(ascii: "]"):
                return true
            default:
                return false
            }
        }
    }
}

extension HTTPMethod {
    /// The method named by `bytes` (a request line's, a `:method` value's): the common methods matched on the bytes,
    /// with no string made for them.
    init(named bytes: UnsafeRawBufferPointer) {
        switch bytes.count {
        case 3:
            if bytes.elementsEqual("GET".utf8) { self = .GET; return }
            if bytes.elementsEqual("PUT".utf8) { self = .PUT; return }
        case 4:
            if bytes.elementsEqual("POST".utf8) { self = .POST; return }
            if bytes.elementsEqual("HEAD".utf8) { self = .HEAD; return }
        case 5:
            if bytes.elementsEqual("PATCH".utf8) { self = .PATCH; return }
        case 6:
            if bytes.elementsEqual("DELETE".utf8) { self = .DELETE; return }
        case 7:
            if bytes.elementsEqual("OPTIONS".utf8) { self = .OPTIONS; return }
            if bytes.elementsEqual("CONNECT".utf8) { self = .CONNECT; return }
        default:
            break
        }
        self.init(rawValue: String(decoding: bytes, as: UTF8.self))
    }

    /// The method's name: `rawValue`, with the common methods as literals (NIO's `rawValue`, a switch over every
    /// method it names, cost about 240 instructions, on each request in each gateway).
    var name: String {
        switch self {
        case .GET: "GET"
        case .POST: "POST"
        case .PUT: "PUT"
        case .HEAD: "HEAD"
        case .DELETE: "DELETE"
        case .OPTIONS: "OPTIONS"
        case .PATCH: "PATCH"
        default: rawValue
        }
    }

    /// `self == .HEAD`, by the case: NIO's `HTTPMethod` is `RawRepresentable`, so `==` compares the `rawValue`
    /// strings (about 200 instructions a comparison, several on each response).
    var isHEAD: Bool {
        if case .HEAD = self { return true }
        return false
    }

    /// `self == .CONNECT`, by the case (``isHEAD``).
    var isCONNECT: Bool {
        if case .CONNECT = self { return true }
        return false
    }

    /// `self == .TRACE`, by the case (``isHEAD``).
    var isTRACE: Bool {
        if case .TRACE = self { return true }
        return false
    }

    /// GET, HEAD, OPTIONS, PUT, DELETE, TRACE: methods a retry cannot harm.
    var isIdempotent: Bool {
        switch self {
        case .GET, .HEAD, .OPTIONS, .PUT, .DELETE, .TRACE: return true
        default: return false
        }
    }
}
