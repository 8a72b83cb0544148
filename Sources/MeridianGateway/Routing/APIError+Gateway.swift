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

/// Minimal JSON string quoting for bodies and access-log lines built without an encoder.
enum JSONText {
    static func quote(_ text: String) -> String {
        var result = "\""
        result.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
