/// One local endpoint of an exported service: a model server in this cluster.
public struct LocalEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// How the gateway talks to it.
    public enum WireProtocol: String, Sendable, Hashable {
        /// HTTP/1.1 with keep-alive (gRPC requests still use h2c).
        case http1
        /// HTTP/2 with prior knowledge, cleartext.
        case h2c
    }

    public let host: String
    public let port: Int
    public let wireProtocol: WireProtocol
    /// `host:port`, the key for pools and tried endpoints; made once, since every request looks it up.
    public let address: String
    /// The key of its health record (``DestinationHealth``).
    let healthKey: String

    public init(host: String, port: Int, wireProtocol: WireProtocol = .http1) {
        self.host = host
        self.port = port
        self.wireProtocol = wireProtocol
        address = HostPort.format(host: host, port: port)
        healthKey = DestinationHealth.localKey(address: address)
        description = wireProtocol == .h2c ? "h2c://\(address)" : address
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

    /// `address`, or `h2c://address`: made once (the access log names the endpoint of every request).
    public let description: String
}
