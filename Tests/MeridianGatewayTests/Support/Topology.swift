import Foundation
import Logging
import MeridianGateway
import MeridianModel
import NIOCore

/// Routing tables for the test mesh: east in Germany (EU), west and south in the US, north in the US and not
/// allowed to call `chat`.
enum TestTables {
    static let germany = Jurisdiction(country: "DE", blocs: ["EU"])
    static let unitedStates = Jurisdiction(country: "US")

    static let policy = ResidencyPolicy(
        name: "test",
        classes: [
            "public": DataClassPolicy(name: "public", rules: [ResidencyRule(allow: .everywhere)]),
            "eu-only": DataClassPolicy(name: "eu-only", rules: [ResidencyRule(allow: JurisdictionSet(blocs: ["EU"]))]),
        ],
        services: ["chat": ServicePolicy(defaultClass: "public", allowedCallers: ["east", "west", "south"])],
        defaultClass: "public")

    static func jurisdiction(of cluster: String) -> Jurisdiction {
        cluster == "east" ? germany : unitedStates
    }

    /// A table for `source` with `peers` (cluster -> tunnel address) and `chat/public` over `levels`; `chat/eu-only`
    /// is refused with 451 (it may not leave the EU, and east has no local capacity).
    static func table(source: String, address: String, peers: [String: String], levels: [[(String, Double)]], timeout: Double = 30) -> RoutingTable {
        RoutingTable(
            source: source, version: 1,
            local: PeerGateway(cluster: source, address: address, jurisdiction: jurisdiction(of: source)),
            peers: peers.keys.sorted().map { PeerGateway(cluster: $0, address: peers[$0]!, jurisdiction: jurisdiction(of: $0)) },
            entries: [
                RouteEntry(service: "chat", dataClass: "eu-only", levels: [],
                           refusal: RouteRefusal(status: 451, reason: "data class 'eu-only' may not leave the EU and no EU cluster serves 'chat'")),
                RouteEntry(service: "chat", dataClass: "public",
                           levels: levels.map { PriorityLevel(destinations: $0.map { WeightedDestination(cluster: $0.0, weight: $0.1) }) },
                           timeoutSeconds: timeout),
            ],
            policy: policy)
    }
}

/// Gateways on loopback (every port 0) with certificates made at test time.
struct Mesh {
    let pki: TestPKI
    let gateways: [String: Gateway]
    let addresses: [String: GatewayAddresses]
    let stops: [String: AsyncStream<Void>.Continuation]

    /// Stops one gateway (its service task is cancelled: listeners close, connections drop).
    func stop(_ cluster: String) {
        stops[cluster]?.finish()
    }

    func port(_ cluster: String) -> Int { addresses[cluster]!.localPort }
    func tunnel(_ cluster: String) -> String { "127.0.0.1:\(addresses[cluster]!.tunnelPort)" }

    static func configuration(_ cluster: String, pki: TestPKI, endpoints: [String: [String]]) -> GatewayConfiguration {
        var configuration = GatewayConfiguration(cluster: cluster, dataDirectory: pki.path("data-\(cluster)"))
        configuration.localHost = "127.0.0.1"
        configuration.localPort = 0
        configuration.tunnelHost = "127.0.0.1"
        configuration.tunnelPort = 0
        configuration.metricsPort = -1
        configuration.certificatePath = pki.path("\(cluster).pem")
        configuration.privateKeyPath = pki.path("\(cluster)-key.pem")
        configuration.trustBundlePath = pki.path("trust-bundle.pem")
        configuration.trustDomain = TestPKI.trustDomain
        configuration.localEndpoints = endpoints
        configuration.eventLoopThreads = 2
        configuration.accessLog = .disabled
        configuration.probeInterval = .milliseconds(200)
        configuration.drainTimeout = .milliseconds(200)
        configuration.resilience.retryBudgetMinimumPerSecond = 1000
        return configuration
    }

    static var logger: Logger {
        var logger = Logger(label: "test.gateway")
        logger.logLevel = .error
        return logger
    }

    /// Starts a gateway per entry of `endpoints` (cluster -> its local endpoints), applies the tables `tables` makes
    /// from the bound addresses, waits until every table peer that is running is connected, runs `body`, stops.
    static func run<R: Sendable>(
        endpoints: [String: [String: [String]]],
        tables: @escaping @Sendable (_ tunnel: [String: String]) -> [String: RoutingTable],
        configure: @Sendable (inout GatewayConfiguration) -> Void = { _ in },
        _ body: @Sendable (Mesh) async throws -> R
    ) async throws -> R {
        let pki = try TestPKI()
        defer { pki.cleanup() }
        for cluster in ["east", "west", "south", "north"] { try pki.issue(cluster) }
        var gateways: [String: Gateway] = [:]
        for (cluster, served) in endpoints {
            var configuration = configuration(cluster, pki: pki, endpoints: served)
            configure(&configuration)
            gateways[cluster] = Gateway(configuration: configuration, logger: logger)
        }
        let running = gateways
        var stops: [String: AsyncStream<Void>.Continuation] = [:]
        var signals: [String: AsyncStream<Void>] = [:]
        for cluster in running.keys {
            let (stream, continuation) = AsyncStream<Void>.makeStream()
            stops[cluster] = continuation
            signals[cluster] = stream
        }
        let stopSignals = signals
        let stopHandles = stops
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for (cluster, gateway) in running {
                group.addTask {
                    try await withThrowingTaskGroup(of: Void.self) { inner in
                        inner.addTask { try await gateway.run() }
                        inner.addTask { for await _ in stopSignals[cluster]! {} }
                        _ = try await inner.next()
                        inner.cancelAll()
                        try await inner.waitForAll()
                    }
                }
            }
            do {
                var addresses: [String: GatewayAddresses] = [:]
                for (cluster, gateway) in running { addresses[cluster] = try await gateway.listeningAddresses() }
                let tunnels = addresses.mapValues { "127.0.0.1:\($0.tunnelPort)" }
                for (cluster, table) in tables(tunnels) { try await running[cluster]!.apply(table) }
                for (cluster, table) in tables(tunnels) {
                    for peer in table.peers where running[peer.cluster] != nil {
                        let connected = try await eventually { running[cluster]!.isConnected(toPeer: peer.cluster) }
                        if !connected { throw MeshError(description: "\(cluster) did not connect to \(peer.cluster)") }
                    }
                }
                let result = try await body(Mesh(pki: pki, gateways: running, addresses: addresses, stops: stopHandles))
                group.cancelAll()
                try await group.waitForAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }
}

struct MeshError: Error, CustomStringConvertible {
    var description: String
}
