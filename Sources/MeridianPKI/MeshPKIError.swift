/// An error from the mesh PKI: loading or creating the CA, reading PEM, checking a CSR, issuing a certificate.
///
/// Each error carries a ``Code`` that callers can map (the hub maps ``Code/invalidCSR`` to HTTP 400, for example)
/// and a message that tells the user what to fix. Messages never contain key material.
public struct MeshPKIError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, in a form a caller can switch over.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A PEM document could not be parsed, or held the wrong kind of object.
        public static let invalidPEM = Code(rawValue: "invalid_pem")
        /// A certificate signing request is malformed or its self-signature does not verify.
        public static let invalidCSR = Code(rawValue: "invalid_csr")
        /// A key type or curve that the mesh does not accept.
        public static let unsupportedKey = Code(rawValue: "unsupported_key")
        /// A private key does not belong to the certificate it was given with.
        public static let keyMismatch = Code(rawValue: "key_mismatch")
        /// A trust domain, cluster name, DNS name, IP address or lifetime is not acceptable.
        public static let invalidName = Code(rawValue: "invalid_name")
        /// A certificate that should sign others is not a CA (basicConstraints / keyUsage).
        public static let notACertificateAuthority = Code(rawValue: "not_a_certificate_authority")
        /// The CA on disk was created for another trust domain.
        public static let trustDomainMismatch = Code(rawValue: "trust_domain_mismatch")
        /// Reading or writing a file failed.
        public static let fileSystem = Code(rawValue: "file_system")
        /// One of the CA's two files exists without the other.
        public static let incompleteCA = Code(rawValue: "incomplete_ca")
        /// A trust bundle holds no root, or a rotation step would leave it without the signing root.
        public static let emptyTrustBundle = Code(rawValue: "empty_trust_bundle")
        /// The operator's CA encryption key is malformed, or is not the key that sealed the CA in the database.
        public static let invalidKey = Code(rawValue: "invalid_key")
        /// A rotation step was asked for out of order (for example promoting before staging).
        public static let rotationState = Code(rawValue: "rotation_state")
    }

    /// What went wrong.
    public var code: Code
    /// What happened and what to do about it, fit for a log line or an API response.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
