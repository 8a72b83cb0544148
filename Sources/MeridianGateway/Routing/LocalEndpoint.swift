/// One local endpoint of an exported service: a model server in this cluster.
public struct LocalEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// How the gateway talks to it.
    public enum WireProtocol: String, Sendable, Hashable {
        /// HTTP/1.1 with keep-alive (gRPC requests still use h2c).
        case http1
        /// HTTP/2 with prior knowledge, cleartext.
        case h2c
    }

    public var host: String
    public var port: Int
    public var wireProtocol: WireProtocol

    public init(host: String, port: Int, wireProtocol: WireProtocol = .http1) {
        self.host = host
        self.port = port
        self.wireProtocol = wireProtocol
    }

    /// Parses `HOST:PORT`, `http://HOST:PORT`, `h2c://HOST:PORT` or `[V6]:PORT`.
    public init?(_ text: String) {
        var rest = Substring(text)
        var wire = WireProtocol.http1
        if rest.hasPrefix("h2c://") {
            wire = .h2c
            rest = rest.dropFirst(6)
        } else if rest.hasPrefix("http://") {
            rest = rest.dropFirst(7)
        }
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        guard let (host, port) = HostPort.parse(rest) else { return nil }
        self.init(host: host, port: port, wireProtocol: wire)
    }

    /// `host:port`, the key for health and pools.
    public var address: String { HostPort.format(host: host, port: port) }

    public var description: String { wireProtocol == .h2c ? "h2c://\(address)" : address }
}
