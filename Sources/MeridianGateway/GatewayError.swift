/// An error that stops the gateway from starting or from doing a control task, with a code and a message that says
/// what to fix. Messages never contain key material.
public struct GatewayError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, for callers and tests.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// No certificate in the data directory, none given as files, and no hub and join token to get one.
        public static let noIdentity = Code(rawValue: "no_identity")
        /// The certificate, key or trust bundle cannot be used.
        public static let invalidIdentity = Code(rawValue: "invalid_identity")
        /// The hub refused the join (token reused, expired, unknown cluster).
        public static let joinRefused = Code(rawValue: "join_refused")
        /// A routing table file cannot be read or is not a table for this cluster.
        public static let invalidTable = Code(rawValue: "invalid_table")
        /// A setting is wrong (an address, an endpoint, a URL).
        public static let invalidConfiguration = Code(rawValue: "invalid_configuration")
        /// Reading or writing the data directory failed.
        public static let fileSystem = Code(rawValue: "file_system")
        /// A listener could not be bound.
        public static let bindFailed = Code(rawValue: "bind_failed")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
