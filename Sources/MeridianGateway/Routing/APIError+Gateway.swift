import MeridianModel

extension APIError.Code {
    /// The data class may not be processed where the request would go (451).
    static let residencyRefused = APIError.Code(rawValue: "residency_refused")
    /// The caller's cluster may not call the service (403).
    static let callerNotAllowed = APIError.Code(rawValue: "caller_not_allowed")
    /// No route for (service, class) in the table (404).
    static let noRoute = APIError.Code(rawValue: "no_route")
    /// No destination could take the request (503), or a peer answered badly (502).
    static let upstreamUnavailable = APIError.Code(rawValue: "upstream_unavailable")
    /// The service's timeout passed (504).
    static let upstreamTimeout = APIError.Code(rawValue: "upstream_timeout")
    /// Too many requests in flight to a destination (503).
    static let overflow = APIError.Code(rawValue: "overflow")
}

extension APIError {
    /// The JSON body `{"error":{"code","message","field"}}`.
    var jsonBody: String {
        var text = #"{"error":{"code":"# + JSONText.quote(code.rawValue) + #","message":"# + JSONText.quote(message)
        if let field { text += #","field":"# + JSONText.quote(field) }
        return text + "}}"
    }
}
