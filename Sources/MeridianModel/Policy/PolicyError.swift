/// Why a policy document was refused, and where: the whole document is refused on the first error.
///
/// `line` and `column` count from 1 and point at the offending node of the YAML text; `field` is the dotted
/// path of that node (`dataClasses.eu-personal.allow[1]`, empty for the document itself); `message` says
/// what is wrong and what to write instead.
public struct PolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of mistake the document makes. Stable raw values, safe to match on.
    public struct Kind: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Not YAML at all (or an empty document, or a duplicated key).
        public static let syntax = Kind(rawValue: "syntax")
        /// `apiVersion` is not `meridian.dev/v1`.
        public static let wrongAPIVersion = Kind(rawValue: "wrong_api_version")
        /// `kind` is not the document kind expected.
        public static let wrongKind = Kind(rawValue: "wrong_kind")
        /// A key the format does not define (usually a typo).
        public static let unknownKey = Kind(rawValue: "unknown_key")
        /// A required key is absent.
        public static let missingKey = Kind(rawValue: "missing_key")
        /// A value of the wrong YAML type (a scalar where a list belongs, text where a number belongs, ...).
        public static let wrongType = Kind(rawValue: "wrong_type")
        /// A value of the right type but out of range or otherwise unusable.
        public static let invalidValue = Kind(rawValue: "invalid_value")
        /// A class, service, policy or caller name that is not a DNS label.
        public static let invalidName = Kind(rawValue: "invalid_name")
        /// Neither an ISO 3166-1 alpha-2 country, nor a known bloc, nor `*`.
        public static let unknownJurisdiction = Kind(rawValue: "unknown_jurisdiction")
        /// `extends`, `defaultClass` or `services.*.defaultClass` names a class the document does not define.
        public static let unknownClass = Kind(rawValue: "unknown_class")
        /// Classes that extend each other in a circle.
        public static let extendsCycle = Kind(rawValue: "extends_cycle")
        /// A class that allows nowhere once its denies are applied.
        public static let contradiction = Kind(rawValue: "contradiction")
    }

    public var kind: Kind
    /// 1-based line of the offending node.
    public var line: Int
    /// 1-based column of the offending node.
    public var column: Int
    /// Dotted path of the offending node; empty for the document as a whole.
    public var field: String
    /// What is wrong and what to write instead.
    public var message: String

    public init(kind: Kind, line: Int, column: Int, field: String, message: String) {
        self.kind = kind
        self.line = line
        self.column = column
        self.field = field
        self.message = message
    }

    /// `line 12, column 7: dataClasses.eu-personal.allow[1]: unknown jurisdiction 'UK' ...`
    public var description: String {
        let location = "line \(line), column \(column)"
        return field.isEmpty ? "\(location): \(message)" : "\(location): \(field): \(message)"
    }

    /// The API error the hub answers with: 400 `invalid_policy`, the field path, and the message with its line.
    public func asAPIError() -> APIError {
        APIError(status: 400, code: .invalidPolicy, message: "line \(line), column \(column): \(message)",
                 field: field.isEmpty ? nil : field)
    }
}
