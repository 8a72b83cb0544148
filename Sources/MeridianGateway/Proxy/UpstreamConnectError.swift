/// Why an upstream could not be had.
struct UpstreamConnectError: Error, CustomStringConvertible {
    enum Kind: String { case unavailable, overflow, closed }
    var kind: Kind
    var message: String
    var description: String { message }
}
