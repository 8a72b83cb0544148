#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeridianModel
import NIOCore
import NIOHTTP1

extension HubClient {
    // MARK: Registry

    public func registerCluster(_ registration: ClusterRegistration) async throws -> Cluster {
        try await request(.POST, "/v1/clusters", json: registration, as: Cluster.self)
    }

    public func clusters(region: String? = nil, provider: String? = nil, jurisdiction: String? = nil, label: String? = nil,
                         status: String? = nil, limit: Int? = nil, cursor: String? = nil) async throws -> Page<Cluster> {
        let query = Self.query([("region", region), ("provider", provider), ("jurisdiction", jurisdiction), ("label", label),
                                ("status", status), ("limit", limit.map(String.init)), ("cursor", cursor)])
        return try await request(.GET, "/v1/clusters" + query, as: Page<Cluster>.self)
    }

    public func cluster(_ name: String) async throws -> Cluster {
        try await request(.GET, "/v1/clusters/\(name)", as: Cluster.self)
    }

    public func removeCluster(_ name: String) async throws {
        try await request(.DELETE, "/v1/clusters/\(name)")
    }

    public func createJoinToken(cluster: String, ttlSeconds: Int? = nil) async throws -> JoinToken {
        try await request(.POST, "/v1/clusters/\(cluster)/join-tokens", json: JoinTokenRequest(ttlSeconds: ttlSeconds), as: JoinToken.self)
    }

    public func createToken(_ token: TokenCreateRequest) async throws -> APIToken {
        try await request(.POST, "/v1/tokens", json: token, as: APIToken.self)
    }

    public func putInventory(cluster: String, _ report: InventoryReport) async throws -> Inventory {
        try await request(.PUT, "/v1/clusters/\(cluster)/inventory", json: report, as: Inventory.self)
    }

    public func inventory(cluster: String) async throws -> Inventory {
        try await request(.GET, "/v1/clusters/\(cluster)/inventory", as: Inventory.self)
    }

    public func putService(cluster: String, name: String, _ spec: ServiceExportSpec) async throws -> ServiceExport {
        try await request(.PUT, "/v1/clusters/\(cluster)/services/\(name)", json: spec, as: ServiceExport.self)
    }

    public func importPrices(csv: String, source: String = "skypilot-catalog") async throws -> PriceImportResult {
        let response = try await send(.POST, "/v1/prices/import" + Self.query([("source", source)]), body: Data(csv.utf8), contentType: "text/csv")
        try Self.check(response)
        return try Self.decoder.decode(PriceImportResult.self, from: response.body)
    }

    public func upsertPrices(_ prices: [GPUPrice]) async throws -> PriceImportResult {
        try await request(.POST, "/v1/prices", json: PriceBatch(prices: prices), as: PriceImportResult.self)
    }

    public func prices(region: String? = nil, cluster: String? = nil) async throws -> Page<GPUPrice> {
        try await request(.GET, "/v1/prices" + Self.query([("region", region), ("cluster", cluster)]), as: Page<GPUPrice>.self)
    }

    public func audit(action: String? = nil, objectType: String? = nil, objectName: String? = nil, limit: Int? = nil) async throws -> Page<AuditEntry> {
        try await request(.GET, "/v1/audit" + Self.query([("action", action), ("objectType", objectType), ("objectName", objectName),
                                                          ("limit", limit.map(String.init))]), as: Page<AuditEntry>.self)
    }

    // MARK: Policy and routes (raw JSON, rendered by the caller)

    /// `PUT /v1/policies/{kind}` with a YAML document; returns the JSON answer.
    public func applyPolicy(kind: String, yaml: String, dryRun: Bool) async throws -> Data {
        let response = try await send(.PUT, "/v1/policies/\(kind)" + (dryRun ? "?dryRun=true" : ""), body: Data(yaml.utf8), contentType: "application/yaml")
        try Self.check(response)
        return response.body
    }

    public func raw(_ method: HTTPMethod, _ path: String, json: Data? = nil) async throws -> Data {
        let response = try await send(method, path, body: json)
        try Self.check(response)
        return response.body
    }

    // MARK: Gateway

    /// Joins with a one-time token and a CSR.
    public func join(_ join: JoinRequest) async throws -> IssuedCertificate {
        try await request(.POST, "/v1/join", json: join, as: IssuedCertificate.self)
    }

    /// Renews this gateway's certificate over its existing mTLS identity.
    public func renew(csrPEM: String) async throws -> IssuedCertificate {
        try await request(.POST, "/v1/gateway/renew", json: RenewRequest(csrPEM: csrPEM), as: IssuedCertificate.self)
    }

    /// Blocking query: returns the table once its version exceeds `index`, or nil when `wait` passes without one.
    public func watchTable(index: Int64, wait: Duration) async throws -> RoutingTable? {
        let seconds = Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18
        let response = try await send(.GET, "/v1/gateway/config?index=\(index)&wait=\(Int(seconds * 1000))ms",
                                      timeout: .milliseconds(Int64(seconds * 1000) + 10_000))
        try Self.check(response)
        guard response.status == 200 else { return nil }
        let table = try Self.decoder.decode(RoutingTable.self, from: response.body)
        return table.version > index ? table : nil
    }

    /// Tells the hub which table version this gateway applied.
    public func acknowledge(version: Int64, hash: String) async throws {
        try await request(.POST, "/v1/gateway/config/ack", json: TableAcknowledgement(version: version, hash: hash))
    }

    public func heartbeat(_ heartbeat: Heartbeat) async throws {
        try await request(.POST, "/v1/gateway/heartbeat", json: heartbeat)
    }
}

/// The body of `POST /v1/gateway/config/ack`. (A type local to `acknowledge` did not link with
/// `-cross-module-optimization`: the compiler referred to it from another module.)
struct TableAcknowledgement: Encodable {
    var version: Int64
    var hash: String
}
