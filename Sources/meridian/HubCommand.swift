import ArgumentParser
import Foundation
import Logging
import MeridianHub
import ServiceLifecycle
import UnixSignals

struct HubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hub", abstract: "Run a hub: API, mesh CA, routing and failure detection.")

    @Option(help: "Data directory (CA, TLS identity, embedded PostgreSQL)")
    var dataDir: String = ".meridian/hub"

    @Option(help: "postgres://USER:PASSWORD@HOST:PORT/DB (env MERIDIAN_DATABASE_URL); default: an embedded PostgreSQL in the data directory")
    var databaseURL: String?

    @Option(help: "API listen address HOST:PORT")
    var listen: String = "127.0.0.1:8443"

    @Option(help: "SPIFFE trust domain")
    var trustDomain: String = "meridian.local"

    @Option(help: "Region catalog YAML (default: regions/regions.yaml)")
    var regions: String?

    @Option(help: "Seconds without heartbeat before a cluster is down")
    var heartbeatTimeout: Double = 6

    @Option(help: "Seconds after which inventory is stale")
    var staleAfter: Double = 60

    @Option(help: "File holding the operator's CA encryption key (32 bytes, base64; env MERIDIAN_CA_ENCRYPTION_KEY). With it the CA lives in the database, its key sealed, shared by every replica")
    var caEncryptionKeyFile: String?

    @Option(help: "Lifetime of gateway certificates in seconds (renewed at two thirds); at least 10")
    var gatewayCertificateLifetime: Double = 24 * 3600

    @Flag(help: "Estimate RTT from region coordinates only (ignore gateway probes)")
    var estimatedRTTOnly = false

    @Option(help: "Log level")
    var logLevel: Logger.Level = .info

    func validate() throws {
        guard gatewayCertificateLifetime >= 10 else {
            throw ValidationError("--gateway-certificate-lifetime must be at least 10 seconds, got \(gatewayCertificateLifetime)")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var logger = Logger(label: "meridian.hub")
        logger.logLevel = logLevel
        let (host, port) = try parseHostPort(listen, option: "--listen")
        var configuration = HubConfiguration(dataDirectory: dataDir, databaseURL: databaseURL ?? environment["MERIDIAN_DATABASE_URL"],
                                             host: host, port: port, trustDomain: trustDomain, regionCatalogPath: regions,
                                             adminToken: environment["MERIDIAN_ADMIN_TOKEN"], staleInventoryAfter: staleAfter,
                                             heartbeatTimeout: heartbeatTimeout)
        configuration.useMeasuredRTT = !estimatedRTTOnly
        configuration.gatewayCertificateLifetime = gatewayCertificateLifetime
        if let caEncryptionKeyFile {
            do {
                configuration.caEncryptionKey = try String(contentsOfFile: caEncryptionKeyFile, encoding: .utf8)
            } catch {
                throw ValidationError("--ca-encryption-key-file: cannot read \(caEncryptionKeyFile): \(error.localizedDescription)")
            }
        } else {
            configuration.caEncryptionKey = environment["MERIDIAN_CA_ENCRYPTION_KEY"]
        }
        let hub = Hub(configuration: configuration, logger: logger) { ready in
            say("meridian hub listening on \(ready.url)")
            say("  CA bundle: \(ready.caFile)")
            if let token = ready.bootstrapAdminToken {
                say("  admin token (shown once): \(token)")
            }
            say("  export MERIDIAN_HUB=\(ready.url) MERIDIAN_CA_FILE=\(ready.caFile)")
        }
        let group = ServiceGroup(configuration: .init(services: [.init(service: hub)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

func parseHostPort(_ text: String, option: String) throws -> (String, Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
        throw ValidationError("\(option) must be HOST:PORT, got '\(text)'")
    }
    return (String(text[..<colon]), port)
}
