import Foundation
import Hummingbird
import Logging
import MeridianModel
import MeridianStore

/// The hub's versioned JSON API (`/v1/...`). Every route is listed in `docs/openapi.yaml`; a test checks both agree.
struct HubAPI: Sendable {
    let store: MeridianStore
    let configuration: HubConfiguration
    let control: HubControlPlane
    let authority: MeshAuthority

    /// Limit for JSON bodies.
    var maxBodyBytes: Int { configuration.maxRequestBodyBytes }

    func addRoutes(to router: RouteRegistry) {
        router.get("/v1/health") { _, _ in try Response.json(["status": "ok"]) }
        addRegistryRoutes(to: router)
        addInventoryRoutes(to: router)
        addTokenAndAuditRoutes(to: router)
        addPolicyRoutes(to: router)
        addGatewayRoutes(to: router)
    }

    static func parameter(_ context: HubRequestContext, _ name: String) throws -> String {
        guard let value = context.parameters.get(name) else { throw APIError.missing(name) }
        return value
    }

    static func intQuery(_ request: Request, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = request.query(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw APIError.invalid(name, "'\(name)' must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return number
    }
}

// MARK: - Regions and clusters

extension HubAPI {
    func addRegistryRoutes(to router: RouteRegistry) {
        router.get("/v1/regions") { request, context in
            try context.require(.viewer, .platform, .compliance)
            var regions = try await store.regions()
            if let provider = request.query("provider") { regions = regions.filter { $0.provider == provider } }
            if let jurisdiction = request.query("jurisdiction") {
                regions = regions.filter { $0.country == jurisdiction || $0.blocs.contains(jurisdiction) }
            }
            return try Response.json(Page(items: regions))
        }
        router.get("/v1/regions/{id}") { _, context in
            try context.require(.viewer, .platform, .compliance)
            let id = try Self.parameter(context, "id")
            guard let region = try await store.regions().first(where: { $0.id == id }) else { throw APIError.notFound("region", id) }
            return try Response.json(region)
        }
        router.post("/v1/clusters") { request, context in
            try context.require(.platform)
            let body = try await StrictJSONBody(ClusterRegistration.fields).decode(ClusterRegistration.self, from: request, maxBytes: maxBodyBytes)
            let cluster = try await store.registerCluster(body, actor: context.actor)
            return try Response.json(cluster, status: .created)
        }
        router.get("/v1/clusters") { request, context in
            try context.require(.viewer, .platform, .compliance)
            var filter = ClusterFilter()
            filter.region = request.query("region")
            filter.provider = request.query("provider")
            filter.jurisdiction = request.query("jurisdiction")
            if let label = request.query("label") {
                let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else { throw APIError.invalid("label", "'label' must be KEY=VALUE, got '\(label)'") }
                filter.label = (parts[0], parts[1])
            }
            if let status = request.query("status") {
                guard let parsed = ClusterStatus(rawValue: status) else {
                    throw APIError.invalid("status", "'status' must be one of \(ClusterStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                filter.status = parsed
            }
            filter.limit = try Self.intQuery(request, "limit", default: 100, range: 1...1000)
            filter.after = request.query("cursor")
            return try Response.json(try await store.clusters(filter))
        }
        router.get("/v1/clusters/{name}") { _, context in
            try context.require(.viewer, .platform, .compliance)
            let name = try Self.parameter(context, "name")
            guard let cluster = try await store.cluster(named: name) else { throw APIError.notFound("cluster", name) }
            return try Response.json(cluster)
        }
        router.patch("/v1/clusters/{name}") { request, context in
            try context.require(.platform)
            let name = try Self.parameter(context, "name")
            let body = try await StrictJSONBody(ClusterUpdate.fields).decode(ClusterUpdate.self, from: request, maxBytes: maxBodyBytes)
            return try Response.json(try await store.updateCluster(name, body, actor: context.actor))
        }
        router.delete("/v1/clusters/{name}") { _, context in
            try context.require(.platform)
            let name = try Self.parameter(context, "name")
            let revoked = try await store.removeCluster(name, actor: context.actor)
            struct Removed: Encodable { var name: String; var revokedSerials: [String] }
            return try Response.json(Removed(name: name, revokedSerials: revoked))
        }
        router.post("/v1/clusters/{name}/join-tokens") { request, context in
            try context.require(.platform)
            let name = try Self.parameter(context, "name")
            let hasBody = (request.headers[.contentLength].flatMap { Int($0) } ?? 0) > 0
            let body = hasBody ? try await StrictJSONBody(JoinTokenRequest.fields).decode(JoinTokenRequest.self, from: request, maxBytes: maxBodyBytes) : JoinTokenRequest()
            try body.validate()
            let token = try await store.createJoinToken(cluster: name, ttlSeconds: body.ttlSeconds ?? 3600, actor: context.actor)
            return try Response.json(token, status: .created)
        }
        router.get("/v1/clusters/{name}/config-status") { _, context in
            try context.require(.viewer, .platform, .compliance)
            let name = try Self.parameter(context, "name")
            guard let status = try await store.configStatus(cluster: name).first else { throw APIError.notFound("cluster", name) }
            return try Response.json(status)
        }
        router.get("/v1/config-status") { _, context in
            try context.require(.viewer, .platform, .compliance)
            return try Response.json(Page(items: try await store.configStatus()))
        }
    }
}

// MARK: - Inventory, services, prices

extension HubAPI {
    func addInventoryRoutes(to router: RouteRegistry) {
        router.put("/v1/clusters/{name}/inventory") { request, context in
            try context.require(.platform)
            let name = try Self.parameter(context, "name")
            let body = try await StrictJSONBody(InventoryReport.fields, nested: ["gpus[]": GPUPool.fields, "services[]": ServiceLoad.fields])
                .decode(InventoryReport.self, from: request, maxBytes: maxBodyBytes)
            return try Response.json(try await store.putInventory(cluster: name, body, actor: context.actor))
        }
        router.get("/v1/clusters/{name}/inventory") { _, context in
            try context.require(.viewer, .platform, .compliance)
            let name = try Self.parameter(context, "name")
            return try Response.json(try await store.inventory(cluster: name, staleAfter: configuration.staleInventoryAfter))
        }
        router.put("/v1/clusters/{name}/services/{service}") { request, context in
            try context.require(.platform)
            let name = try Self.parameter(context, "name")
            let service = try Self.parameter(context, "service")
            let body = try await StrictJSONBody(ServiceExportSpec.fields).decode(ServiceExportSpec.self, from: request, maxBytes: maxBodyBytes)
            return try Response.json(try await store.putService(cluster: name, name: service, body, actor: context.actor))
        }
        router.delete("/v1/clusters/{name}/services/{service}") { _, context in
            try context.require(.platform)
            let name = try Self.parameter(context, "name")
            let service = try Self.parameter(context, "service")
            try await store.removeService(cluster: name, name: service, actor: context.actor)
            return Response(status: .noContent)
        }
        router.get("/v1/services") { request, context in
            try context.require(.viewer, .platform, .compliance)
            return try Response.json(Page(items: try await store.services(cluster: request.query("cluster"), name: request.query("name"))))
        }
        router.post("/v1/prices") { request, context in
            try context.require(.platform)
            let body = try await StrictJSONBody(PriceBatch.fields, nested: ["prices[]": GPUPrice.fields])
                .decode(PriceBatch.self, from: request, maxBytes: maxBodyBytes)
            let count = try await store.upsertPrices(body.prices, actor: context.actor)
            return try Response.json(PriceImportResult(imported: count, skipped: []), status: .created)
        }
        router.post("/v1/prices/import") { request, context in
            try context.require(.platform)
            let buffer: ByteBuffer
            do { buffer = try await request.body.collect(upTo: configuration.maxImportBytes) } catch {
                throw APIError(status: 400, code: .bodyTooLarge, message: "the CSV exceeds \(configuration.maxImportBytes) bytes", field: "body")
            }
            let csv = String(buffer: buffer)
            let source = request.query("source") ?? "skypilot-catalog"
            let result = try await store.importSkyPilotCatalog(csv, source: source, actor: context.actor)
            return try Response.json(result, status: .created)
        }
        router.get("/v1/prices") { request, context in
            try context.require(.viewer, .platform, .compliance)
            let prices = try await store.currentPrices(region: request.query("region"), cluster: request.query("cluster"), gpuModel: request.query("gpuModel"))
            return try Response.json(Page(items: prices))
        }
    }
}

// MARK: - Tokens and audit

extension HubAPI {
    func addTokenAndAuditRoutes(to router: RouteRegistry) {
        router.post("/v1/tokens") { request, context in
            try context.require(.admin)
            let body = try await StrictJSONBody(TokenCreateRequest.fields).decode(TokenCreateRequest.self, from: request, maxBytes: maxBodyBytes)
            return try Response.json(try await store.createToken(body, actor: context.actor), status: .created)
        }
        router.get("/v1/tokens") { _, context in
            try context.require(.admin)
            return try Response.json(Page(items: try await store.tokens()))
        }
        router.delete("/v1/tokens/{name}") { _, context in
            try context.require(.admin)
            try await store.revokeToken(name: try Self.parameter(context, "name"), actor: context.actor)
            return Response(status: .noContent)
        }
        router.get("/v1/audit") { request, context in
            try context.require(.compliance)
            var filter = AuditFilter()
            filter.actor = request.query("actor")
            filter.action = request.query("action")
            filter.objectType = request.query("objectType")
            filter.objectName = request.query("objectName")
            if let since = request.query("since") {
                guard let date = ISO8601DateFormatter().date(from: since) else {
                    throw APIError.invalid("since", "'since' must be an ISO 8601 date-time such as 2026-11-29T10:00:00Z")
                }
                filter.since = date
            }
            filter.limit = try Self.intQuery(request, "limit", default: 100, range: 1...1000)
            if let cursor = request.query("cursor") {
                guard let id = Int64(cursor) else { throw APIError.invalid("cursor", "'cursor' must be the nextCursor of a previous page") }
                filter.before = id
            }
            return try Response.json(try await store.auditLog(filter))
        }
    }
}
