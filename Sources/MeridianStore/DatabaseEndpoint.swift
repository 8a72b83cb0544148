import Foundation
import MeridianModel
import PostgresNIO

/// Where the hub's PostgreSQL is: a `postgres://` URL, or the embedded server's Unix socket.
public struct DatabaseEndpoint: Sendable, Hashable {
    public enum Address: Sendable, Hashable {
        case tcp(host: String, port: Int)
        case unixSocket(path: String)
    }

    public var address: Address
    public var username: String
    public var password: String?
    public var database: String

    public init(address: Address, username: String, password: String? = nil, database: String) {
        self.address = address
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses `postgres://user:password@host:port/database` (TLS is not used; run PostgreSQL on a private network
    /// or a Unix socket). `?host=/path` selects a Unix socket directory, as libpq does.
    public init(url: String) throws(APIError) {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
            throw .invalid("database-url", "'\(url)' is not a postgres:// URL; use postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        self.username = components.user ?? "postgres"
        self.password = components.password
        self.database = database.isEmpty ? self.username : database
        if let socketDirectory = components.queryItems?.first(where: { $0.name == "host" })?.value, socketDirectory.hasPrefix("/") {
            self.address = .unixSocket(path: socketDirectory + "/.s.PGSQL.\(components.port ?? 5432)")
        } else {
            guard let host = components.host, !host.isEmpty else { throw .invalid("database-url", "'\(url)' has no host") }
            self.address = .tcp(host: host, port: components.port ?? 5432)
        }
    }

    /// The embedded server's socket.
    public static func embedded(_ postgres: EmbeddedPostgres) -> DatabaseEndpoint {
        DatabaseEndpoint(address: .unixSocket(path: postgres.socketPath), username: postgres.configuration.superuser,
                         database: postgres.configuration.database)
    }

    /// Largest number of pooled connections. Default 20.
    public var maximumConnections: Int = 20

    /// Pool configuration.
    public var clientConfiguration: PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        switch address {
        case .tcp(let host, let port):
            configuration = .init(host: host, port: port, username: username, password: password, database: database, tls: .disable)
        case .unixSocket(let path):
            configuration = .init(unixSocketPath: path, username: username, password: password, database: database)
        }
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// Configuration of a dedicated connection (LISTEN, advisory locks).
    public var connectionConfiguration: PostgresConnection.Configuration {
        switch address {
        case .tcp(let host, let port):
            .init(host: host, port: port, username: username, password: password, database: database, tls: .disable)
        case .unixSocket(let path):
            .init(unixSocketPath: path, username: username, password: password, database: database)
        }
    }
}
