import Foundation
import Hummingbird
import MeridianModel
import MeridianRouting
import MeridianStore
import MeridianYAML

/// What `PUT /v1/policies/{kind}` answers: the stored version (nil for a dry run) and which routes change.
struct PolicyApplyResult: Encodable {
    var kind: String
    var dryRun: Bool
    var version: Int64?
    var diff: RouteDiff
    var summary: String
}

/// `POST /v1/routes/simulate`: what-if changes that are never stored.
struct SimulationRequest: Codable, Sendable {
    static let fields: Set<String> = ["down", "saturate", "price"]
    /// Clusters to treat as down.
    var down: [String]?
    /// `CLUSTER` (every service) or `CLUSTER/SERVICE` to treat as saturated.
    var saturate: [String]?
    /// GPU-hour price per cluster.
    var price: [String: Double]?
}

extension HubAPI {
    func addPolicyRoutes(to router: RouteRegistry) {
        router.put("/v1/policies/{kind}") { request, context in
            try context.require(.compliance)
            let kind = try Self.parameter(context, "kind")
            guard kind == "residency" || kind == "routing" else {
                throw APIError.invalid("kind", "policy kind must be 'residency' or 'routing', got '\(kind)'")
            }
            let buffer: ByteBuffer
            do { buffer = try await request.body.collect(upTo: maxBodyBytes) } catch {
                throw APIError(status: 400, code: .bodyTooLarge, message: "the policy document exceeds \(maxBodyBytes) bytes", field: "body")
            }
            let yaml = String(buffer: buffer)
            let document: PolicyDocument
            do { document = try PolicyDocument.parse(yaml: yaml) } catch let error as PolicyError { throw error.asAPIError() }
            let dryRun = request.query("dryRun") == "true" || request.query("dry-run") == "true"
            let current = try await control.snapshot()
            var proposed = current
            switch (kind, document) {
            case ("residency", .residency(let policy)): proposed.policy = policy
            case ("routing", .routing(let preferences)): proposed.preferences = preferences
            default:
                throw APIError(status: 400, code: .invalidPolicy, message: "the document's 'kind' does not match the endpoint /v1/policies/\(kind)", field: "kind")
            }
            let routes = MeridianRouting.Router()
            let diff = RouteDiff(old: routes.compile(current), new: routes.compile(proposed))
            let summary = diff.render()
            guard !dryRun else {
                return try Response.json(PolicyApplyResult(kind: kind, dryRun: true, version: nil, diff: diff, summary: summary))
            }
            let stored: PolicyVersion
            switch document {
            case .residency(let policy):
                stored = try await store.storePolicy(kind: kind, document: yaml, compiled: policy, author: context.actor, diff: summary)
            case .routing(let preferences):
                stored = try await store.storePolicy(kind: kind, document: yaml, compiled: preferences, author: context.actor, diff: summary)
            }
            control.requestRecompute()
            return try Response.json(PolicyApplyResult(kind: kind, dryRun: false, version: stored.version, diff: diff, summary: summary), status: .created)
        }
        router.get("/v1/policies/{kind}") { _, context in
            try context.require(.viewer, .compliance, .platform)
            let kind = try Self.parameter(context, "kind")
            guard let current = try await store.policyHistory(kind: kind).first else { throw APIError.notFound("policy", kind) }
            return try Response.json(current)
        }
        router.get("/v1/policies/{kind}/versions") { _, context in
            try context.require(.viewer, .compliance, .platform)
            let kind = try Self.parameter(context, "kind")
            return try Response.json(Page(items: try await store.policyHistory(kind: kind)))
        }
        router.get("/v1/routes/explain") { request, context in
            try context.require(.viewer, .compliance, .platform)
            guard let from = request.query("from") else { throw APIError.missing("from") }
            guard let service = request.query("service") else { throw APIError.missing("service") }
            let snapshot = try await control.snapshot()
            guard let dataClass = request.query("class") ?? snapshot.policy.defaultClass(forService: service) else {
                throw APIError.missing("class")
            }
            guard snapshot.clusters.contains(where: { $0.name == from }) else { throw APIError.notFound("cluster", from, field: "from") }
            return try Response.json(control.router.explain(source: from, service: service, dataClass: dataClass, in: snapshot))
        }
        router.post("/v1/routes/simulate") { request, context in
            try context.require(.viewer, .compliance, .platform)
            let body = try await StrictJSONBody(SimulationRequest.fields).decode(SimulationRequest.self, from: request, maxBytes: maxBodyBytes)
            let current = try await control.snapshot()
            var proposed = current
            let names = Set(current.clusters.map(\.name))
            for (index, name) in (body.down ?? []).enumerated() where !names.contains(name) {
                throw APIError.invalid("down[\(index)]", "unknown cluster '\(name)'")
            }
            for i in proposed.clusters.indices {
                let name = proposed.clusters[i].name
                if body.down?.contains(name) == true { proposed.clusters[i].healthy = false }
                if let price = body.price?[name] { proposed.clusters[i].pricePerGPUHour = price }
                for target in body.saturate ?? [] {
                    let parts = target.split(separator: "/").map(String.init)
                    guard parts.first == name else { continue }
                    let limits = proposed.preferences
                    for service in proposed.clusters[i].services.keys where parts.count == 1 || parts[1] == service {
                        let queue = (limits.preference(for: service).saturation.queueDepth ?? 64) + 1
                        proposed.clusters[i].services[service]?.queueDepth = queue
                        proposed.clusters[i].services[service]?.kvCacheUtilization = 1
                    }
                }
            }
            let routes = MeridianRouting.Router()
            let diff = RouteDiff(old: routes.compile(current), new: routes.compile(proposed))
            return try Response.json(PolicyApplyResult(kind: "simulation", dryRun: true, version: nil, diff: diff, summary: diff.render()))
        }
        router.get("/v1/routes/{cluster}") { _, context in
            try context.require(.viewer, .compliance, .platform)
            let cluster = try Self.parameter(context, "cluster")
            if let published = await control.cache.table(for: cluster) {
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: published.body)))
            }
            guard let table = control.router.table(for: cluster, in: try await control.snapshot()) else { throw APIError.notFound("cluster", cluster) }
            return try Response.json(table)
        }
    }
}
