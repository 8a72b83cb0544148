/// An error a user can act on: one HTTP status, a stable code, a message that says what to fix,
/// and the request field at fault. Rendered as `{"error": {"code", "message", "field"}}`.
public struct APIError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable, machine-readable codes.
    public struct Code: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidJSON = Code(rawValue: "invalid_json")
        public static let invalidField = Code(rawValue: "invalid_field")
        public static let missingField = Code(rawValue: "missing_field")
        public static let unknownField = Code(rawValue: "unknown_field")
        public static let bodyTooLarge = Code(rawValue: "body_too_large")
        public static let unauthenticated = Code(rawValue: "unauthenticated")
        public static let forbidden = Code(rawValue: "forbidden")
        public static let notFound = Code(rawValue: "not_found")
        public static let conflict = Code(rawValue: "conflict")
        public static let invalidPolicy = Code(rawValue: "invalid_policy")
        public static let invalidToken = Code(rawValue: "invalid_join_token")
        public static let unavailable = Code(rawValue: "unavailable")
        public static let internalError = Code(rawValue: "internal")
    }

    public var status: Int
    public var code: Code
    public var message: String
    public var field: String?

    public init(status: Int, code: Code, message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String {
        if let field { return "\(code.rawValue) (\(field)): \(message)" }
        return "\(code.rawValue): \(message)"
    }

    public static func invalid(_ field: String, _ message: String) -> APIError {
        APIError(status: 400, code: .invalidField, message: message, field: field)
    }
    public static func missing(_ field: String) -> APIError {
        APIError(status: 400, code: .missingField, message: "'\(field)' is required", field: field)
    }
    public static func notFound(_ what: String, _ name: String, field: String? = nil) -> APIError {
        APIError(status: 404, code: .notFound, message: "\(what) '\(name)' does not exist", field: field)
    }
    public static func conflict(_ message: String, field: String? = nil) -> APIError {
        APIError(status: 409, code: .conflict, message: message, field: field)
    }
}

/// The JSON body of an error response.
public struct APIErrorBody: Codable, Sendable {
    public struct Detail: Codable, Sendable {
        public var code: String
        public var message: String
        public var field: String?
    }
    public var error: Detail

    public init(_ error: APIError) {
        self.error = Detail(code: error.code.rawValue, message: error.message, field: error.field)
    }
}
