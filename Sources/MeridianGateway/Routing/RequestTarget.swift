import Foundation
import Foundation
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
        let named = head.headers.first(name: Header.service).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        if let named, !named.isEmpty {
            service = named
        } else if let host = head.headers.first(name: "host"), let service = Self.service(fromAuthority: host) {
            self.service = service
        } else {
            return nil
        }
        let dataClass = head.headers.first(name: Header.dataClass)?.trimmingCharacters(in: .whitespaces)
        requestedClass = dataClass?.isEmpty == false ? dataClass : nil
    }

    /// `llama.meridian:15001` -> `llama`; `nil` for any other authority.
    public static func service(fromAuthority authority: String) -> String? {
        var host = Substring(authority.lowercased())
        if !host.hasPrefix("["), let colon = host.lastIndex(of: ":") { host = host[..<colon] }
        if host.hasSuffix(".") { host = host.dropLast() }
        guard host.hasSuffix(serviceDomain) else { return nil }
        let name = host.dropLast(serviceDomain.count)
        guard !name.isEmpty, !name.contains(".") else { return nil }
        return String(name)
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
