import NIOCore

/// Where a running gateway listens (useful when the configuration asked for port 0).
public struct GatewayAddresses: Sendable, Hashable {
    public var local: SocketAddress
    public var tunnel: SocketAddress
    public var metrics: SocketAddress?

    public var localPort: Int { local.port ?? 0 }
    public var tunnelPort: Int { tunnel.port ?? 0 }
    public var metricsPort: Int? { metrics?.port }
}
