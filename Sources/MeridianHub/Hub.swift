import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import MeridianModel
import MeridianPKI
import MeridianStore
import MeridianYAML
import NIOCore
import NIOSSL
import PostgresNIO
import Prometheus
import ServiceLifecycle

/// What a started hub tells its owner.
public struct HubReady: Sendable {
    /// `https://HOST:PORT`
    public var url: String
    public var port: Int
    /// PEM file of the mesh trust bundle (clients verify the API with it).
    public var caFile: String
    /// The first admin token, when this start created it (shown once).
    public var bootstrapAdminToken: String?
    /// Every served route, `METHOD PATH`.
    public var routes: [String]
}

/// The hub: PostgreSQL (embedded by default), the mesh CA, the HTTPS API, the distributor and the leader jobs.
/// A `Service`: run it in a `ServiceGroup`; graceful shutdown stops the API, the control loop and the
/// embedded PostgreSQL.
public struct Hub: Service {
    public let configuration: HubConfiguration
    let logger: Logger
    let onReady: @Sendable (HubReady) async -> Void

    public init(configuration: HubConfiguration, logger: Logger, onReady: @escaping @Sendable (HubReady) async -> Void = { _ in }) {
        self.configuration = configuration
        self.logger = logger
        self.onReady = onReady
    }

    public func run() async throws {
        let dataDirectory = URL(fileURLWithPath: configuration.dataDirectory).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        var embedded: EmbeddedPostgres? = nil
        var endpoint: DatabaseEndpoint
        if let url = configuration.databaseURL {
            endpoint = try DatabaseEndpoint(url: url)
        } else {
            var postgresConfiguration = EmbeddedPostgres.Configuration(dataDirectory: dataDirectory + "/postgres")
            postgresConfiguration.stopWhenProcessExits = configuration.embeddedDatabaseFollowsProcess
            let postgres = try EmbeddedPostgres(configuration: postgresConfiguration, logger: logger)
            try postgres.start()
            embedded = postgres
            endpoint = .embedded(postgres)
        }
        defer {
            if let embedded, configuration.stopEmbeddedDatabaseOnShutdown {
                do { try embedded.stop() } catch { logger.error("could not stop the embedded PostgreSQL", metadata: ["meridian.error": "\(error)"]) }
            }
        }
        endpoint.maximumConnections = configuration.databasePoolSize
        let client = PostgresClient(configuration: endpoint.clientConfiguration, backgroundLogger: logger)
        let pooled = endpoint
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await serve(client: client, endpoint: pooled, dataDirectory: dataDirectory, group: &group)
        }
    }

    /// The mesh CA: from the data directory (key file 0600), or, given the operator's encryption key, from the
    /// database with its key sealed. The first hub stores it there (creating it, or taking the data directory's);
    /// every replica started with the same key then shares it.
    private func loadCA(store: MeridianStore, directory: String) async throws -> MeshCA {
        guard let keyText = configuration.caEncryptionKey else {
            return try MeshCA.loadOrCreate(directory: directory, trustDomain: configuration.trustDomain)
        }
        let key = try CAEncryptionKey(base64: keyText)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        if let sealed = try await store.sealedMeshCA() {
            logger.info("mesh CA loaded from the database", metadata: ["meridian.ca.key_id": "\(key.id)"])
            return try MeshCA(unsealing: sealed, with: key, trustDomain: configuration.trustDomain)
        }
        let keyFile = directory + "/" + MeshCA.privateKeyFileName
        let onDisk = FileManager.default.fileExists(atPath: keyFile)
        let ca = onDisk ? try MeshCA.loadOrCreate(directory: directory, trustDomain: configuration.trustDomain)
                        : try MeshCA.create(trustDomain: configuration.trustDomain)
        let stored = try await store.storeMeshCAIfAbsent(try ca.sealed(with: key), actor: "system")
        if onDisk {
            logger.notice("the data directory's CA is now kept in the database, its key sealed; \(keyFile) can be removed",
                          metadata: ["meridian.ca.key_id": "\(key.id)"])
        }
        return try MeshCA(unsealing: stored, with: key, trustDomain: configuration.trustDomain)
    }

    private func serve(client: PostgresClient, endpoint: DatabaseEndpoint, dataDirectory: String, group: inout ThrowingTaskGroup<Void, any Error>) async throws {
        let store = MeridianStore(client: client, logger: logger)
        try await withRetries { try await store.migrate() }

        guard let catalogPath = configuration.regionCatalogPath ?? RegionCatalog.defaultPath() else {
            throw APIError.invalid("regions", "the region catalog was not found; pass --regions PATH/regions.yaml")
        }
        let catalog = try RegionCatalog(yaml: String(contentsOfFile: catalogPath, encoding: .utf8))
        try await store.upsertRegions(catalog.regions)
        logger.info("region catalog loaded", metadata: ["meridian.regions": "\(catalog.regions.count)", "meridian.path": "\(catalogPath)"])

        let admin = try await store.bootstrapAdminToken(secret: configuration.adminToken)

        let ca = try await loadCA(store: store, directory: dataDirectory + "/ca")
        let authority = MeshAuthority(ca)
        try ca.writeTrustBundle(to: dataDirectory + "/ca")
        let caFile = dataDirectory + "/ca/trust-bundle.pem"
        let names = Array(Set(["localhost", configuration.host] + configuration.serverNames))
        let dnsNames = names.filter { !Self.isIPAddress($0) }
        let ips = Array(Set(["127.0.0.1"] + names.filter { Self.isIPAddress($0) }))
        let identity = try ca.issueServerCertificate(dnsNames: dnsNames, ipAddresses: ips)
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(identity.certificatePEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem)))
        tls.certificateVerification = .optionalVerification
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.trustBundlePEM.utf8)))
        tls.applicationProtocols = ["http/1.1"]

        let metrics = PrometheusCollectorRegistry()
        let control = HubControlPlane(store: store, endpoint: endpoint, configuration: configuration, metrics: metrics, logger: logger)
        control.trustBundlePEM = ca.trustBundlePEM
        let verifier = PeerIdentityVerifier(trustBundle: ca.trustBundle, trustDomain: configuration.trustDomain)
        let logger = self.logger

        let router = Router(context: HubRequestContext.self)
        router.add(middleware: APIErrorMiddleware())
        router.add(middleware: Authenticator(store: store) { channel in
            guard let certificate = try? await channel.nioSSL_peerCertificate().get() else { return nil }
            switch await verifier.verify(certificates: [certificate], as: .client) {
            case .success(let identity): return (identity.cluster, identity.serial)
            case .failure(let failure):
                logger.warning("refused a client certificate", metadata: ["meridian.reason": "\(failure)"])
                return nil
            }
        })
        let registry = RouteRegistry(router: router)
        HubAPI(store: store, configuration: configuration, control: control, authority: authority).addRoutes(to: registry)
        registry.get("/metrics") { _, _ in
            var buffer: [UInt8] = []
            metrics.emit(into: &buffer)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }

        let routes = registry.routes
        group.addTask { try await control.run() }

        let configuration = self.configuration
        let onReady = self.onReady
        let app = Application(
            router: router,
            server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "meridian-hub"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                await onReady(HubReady(url: "https://\(configuration.host):\(port)", port: port, caFile: caFile, bootstrapAdminToken: admin?.secret,
                                       routes: routes))
            },
            logger: logger)
        try await app.run()
    }

    private func withRetries(_ body: () async throws -> Void) async throws {
        var attempt = 0
        while true {
            do { return try await body() } catch {
                attempt += 1
                if attempt >= 30 { throw error }
                logger.warning("database not ready; retrying", metadata: ["meridian.error": "\(error)"])
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    static func isIPAddress(_ text: String) -> Bool {
        text.split(separator: ".").count == 4 && text.split(separator: ".").allSatisfy { UInt8($0) != nil } || text.contains(":")
    }
}
