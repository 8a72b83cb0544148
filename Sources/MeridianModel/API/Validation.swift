/// Field validators shared by the API and the CLI. Each throws an ``APIError`` naming the field.
public enum Validate {
    /// A DNS label (RFC 1123): 1-63 characters of `a-z`, `0-9` and `-`, not starting or ending with `-`.
    public static func dnsLabel(_ value: String, field: String) throws(APIError) {
        let bytes = Array(value.utf8)
        guard !bytes.isEmpty else { throw .invalid(field, "'\(field)' must not be empty; use a DNS label such as 'eu-west-a'") }
        guard bytes.count <= 63 else { throw .invalid(field, "'\(field)' is \(bytes.count) characters; a DNS label has at most 63") }
        let ok = bytes.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d }
        guard ok, bytes.first != 0x2d, bytes.last != 0x2d else {
            throw .invalid(field, "'\(value)' is not a DNS label: use lowercase letters, digits and '-', not starting or ending with '-'")
        }
    }

    /// A `host:port` address.
    public static func hostPort(_ value: String, field: String) throws(APIError) {
        guard let colon = value.lastIndex(of: ":"), colon != value.startIndex,
              let port = Int(value[value.index(after: colon)...]), (1...65535).contains(port)
        else { throw .invalid(field, "'\(value)' is not an address; use HOST:PORT, for example 10.0.0.7:15443") }
        let host = value[..<colon]
        guard !host.contains(" "), !host.isEmpty else { throw .invalid(field, "'\(value)' has an empty or invalid host") }
    }

    /// A non-negative number.
    public static func nonNegative<T: Numeric & Comparable>(_ value: T, field: String) throws(APIError) {
        guard value >= 0 else { throw .invalid(field, "'\(field)' must be zero or more, got \(value)") }
    }

    /// A fraction in 0...1.
    public static func fraction(_ value: Double, field: String) throws(APIError) {
        guard value.isFinite, value >= 0, value <= 1 else { throw .invalid(field, "'\(field)' must be between 0 and 1, got \(value)") }
    }

    /// Labels: keys and values of at most 63 characters, keys non-empty, at most 64 labels.
    public static func labels(_ labels: [String: String], field: String = "labels") throws(APIError) {
        guard labels.count <= 64 else { throw .invalid(field, "at most 64 labels are allowed, got \(labels.count)") }
        for (key, value) in labels {
            guard !key.isEmpty, key.utf8.count <= 63, value.utf8.count <= 63,
                  key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != 0x3d && $0 != 0x2c })
            else { throw .invalid("\(field).\(key)", "label keys are 1-63 printable characters without '=' or ','; values at most 63 characters") }
        }
    }
}
