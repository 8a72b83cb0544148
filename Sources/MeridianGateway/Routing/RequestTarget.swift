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
    public init?(head: HTTPRequestHead) {
        let named = head.headers.first(name: Header.service).map { $0.trimmingOptionalWhitespace.asciiLowercased }
        if let named, !named.isEmpty {
            service = named
        } else if let host = head.headers.first(name: "host"), let service = Self.service(fromAuthority: host) {
            self.service = service
        } else {
            return nil
        }
        let dataClass = head.headers.first(name: Header.dataClass)?.trimmingOptionalWhitespace
        requestedClass = dataClass?.isEmpty == false ? String(dataClass!) : nil
    }

    /// `llama.meridian:15001` -> `llama`; `nil` for any other authority.
    public static func service(fromAuthority authority: String) -> String? {
        let utf8 = authority.utf8
        var end = utf8.endIndex
        if utf8.first != UInt8(ascii: "["), let colon = utf8.lastIndex(of: UInt8(ascii: ":")) { end = colon }
        if end > utf8.startIndex, utf8[utf8.index(before: end)] == UInt8(ascii: ".") { end = utf8.index(before: end) }
        let suffix = serviceDomain.utf8
        guard utf8.distance(from: utf8.startIndex, to: end) > suffix.count else { return nil }
        let nameEnd = utf8.index(end, offsetBy: -suffix.count)
        guard zip(utf8[nameEnd..<end], suffix).allSatisfy({ $0.asciiLowercased == $1 }),
              !utf8[utf8.startIndex..<nameEnd].contains(UInt8(ascii: "."))
        else { return nil }
        return authority[authority.startIndex..<nameEnd].asciiLowercased
    }
}

extension HTTPMethod {
    /// GET, HEAD, OPTIONS, PUT, DELETE, TRACE: methods a retry cannot harm.
    var isIdempotent: Bool {
        switch self {
        case .GET, .HEAD, .OPTIONS, .PUT, .DELETE, .TRACE: return true
        default: return false
        }
    }
}
