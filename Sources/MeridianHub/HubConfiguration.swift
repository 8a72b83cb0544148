import Foundation

/// Settings of a hub. `meridian hub` fills it from flags and `MERIDIAN_*` variables; defaults are documented per field.
public struct HubConfiguration: Sendable {
    /// Where the hub keeps its CA, its TLS identity and (embedded default) its PostgreSQL. Default `./.meridian/hub`.
    public var dataDirectory: String
    /// `postgres://user:password@host:port/database`; nil starts the embedded PostgreSQL in `dataDirectory/postgres`.
    public var databaseURL: String?
    /// API listen address. Default `127.0.0.1`.
    public var host: String
    /// API port; 0 picks a free one. Default 8443.
    public var port: Int
    /// Extra DNS names and IPs for the API's server certificate (besides `localhost`, `127.0.0.1` and `host`).
    public var serverNames: [String]
    /// SPIFFE trust domain. Default `meridian.local`.
    public var trustDomain: String
    /// Region catalog (YAML). Default `regions/regions.yaml` when present.
    public var regionCatalogPath: String?
    /// First admin token when the database has none (`MERIDIAN_ADMIN_TOKEN`); else one is generated and printed once.
    public var adminToken: String?
    /// Inventory older than this is reported stale. Default 60 s.
    public var staleInventoryAfter: TimeInterval
    /// A cluster that sends no heartbeat for this long is down. Default 6 s.
    public var heartbeatTimeout: TimeInterval
    /// How often the failure detector looks. Default 1 s.
    public var detectorInterval: TimeInterval
    /// The operator's key (32 bytes, base64) under which the CA's private key is sealed in the database, so that
    /// replicas share one CA. nil (default): the CA lives in the data directory, its key in a 0600 file.
    public var caEncryptionKey: String?
    /// Lifetime of gateway certificates. Default 24 h.
    public var gatewayCertificateLifetime: TimeInterval
    /// Largest JSON body. Default 1 MiB.
    public var maxRequestBodyBytes: Int
    /// Largest CSV import. Default 16 MiB.
    public var maxImportBytes: Int
    /// Longest blocking-query wait a gateway may ask for. Default 60 s.
    public var maxWatchWait: TimeInterval
    /// Stop the embedded PostgreSQL when the hub stops. Default true.
    public var stopEmbeddedDatabaseOnShutdown: Bool
    /// Feed gateways' measured RTTs to the router (else RTT is estimated from region coordinates). Default true;
    /// the loopback demo turns it off, since every "region" there is one machine.
    public var useMeasuredRTT: Bool = true
    /// Stop the embedded PostgreSQL when this process exits, even if killed (tests). Default false: a hub that
    /// is killed leaves its PostgreSQL running, and the next start reuses it.
    public var embeddedDatabaseFollowsProcess: Bool = false
    /// Pooled PostgreSQL connections of this hub (plus two dedicated ones: notifications and leadership). Default 20.
    public var databasePoolSize: Int = 20

    public init(dataDirectory: String = ".meridian/hub", databaseURL: String? = nil, host: String = "127.0.0.1", port: Int = 8443,
                serverNames: [String] = [], trustDomain: String = "meridian.local", regionCatalogPath: String? = nil,
                adminToken: String? = nil, staleInventoryAfter: TimeInterval = 60, heartbeatTimeout: TimeInterval = 6,
                detectorInterval: TimeInterval = 1, gatewayCertificateLifetime: TimeInterval = 24 * 3600,
                maxRequestBodyBytes: Int = 1 << 20, maxImportBytes: Int = 16 << 20, maxWatchWait: TimeInterval = 60,
                stopEmbeddedDatabaseOnShutdown: Bool = true) {
        self.dataDirectory = dataDirectory
        self.databaseURL = databaseURL
        self.host = host
        self.port = port
        self.serverNames = serverNames
        self.trustDomain = trustDomain
        self.regionCatalogPath = regionCatalogPath
        self.adminToken = adminToken
        self.staleInventoryAfter = staleInventoryAfter
        self.heartbeatTimeout = heartbeatTimeout
        self.detectorInterval = detectorInterval
        self.gatewayCertificateLifetime = gatewayCertificateLifetime
        self.maxRequestBodyBytes = maxRequestBodyBytes
        self.maxImportBytes = maxImportBytes
        self.maxWatchWait = maxWatchWait
        self.stopEmbeddedDatabaseOnShutdown = stopEmbeddedDatabaseOnShutdown
    }
}
