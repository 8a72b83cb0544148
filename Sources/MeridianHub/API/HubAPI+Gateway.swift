import Foundation
import HTTPTypes
import Hummingbird
import MeridianModel
import MeridianPKI
import MeridianStore
import Prometheus

/// `POST /v1/gateway/config/ack`
struct TableAck: Codable, Sendable {
    static let fields: Set<String> = ["version", "hash"]
    var version: Int64
    var hash: String?
}

extension HubAPI {
    func addGatewayRoutes(to router: RouteRegistry) {
        // A gateway's first contact: a one-time token and a CSR, answered with its certificate and the trust bundle.
        router.post("/v1/join") { request, context in
            let body = try await StrictJSONBody(JoinRequest.fields).decode(JoinRequest.self, from: request, maxBytes: maxBodyBytes)
            try Validate.dnsLabel(body.cluster, field: "cluster")
            guard try await store.cluster(named: body.cluster) != nil else {
                try await store.recordEvent(actor: "cluster:\(body.cluster)", action: "join-token.refused", objectType: "cluster",
                                            objectName: body.cluster, details: ["reason": "cluster is not registered"])
                throw APIError(status: 403, code: .invalidToken, message: "join refused: cluster '\(body.cluster)' is not registered", field: "cluster")
            }
            // Check the CSR before spending the token, so a malformed request can be retried.
            let ca = authority.ca
            do { _ = try ca.issueGatewayCertificate(csrPEM: body.csrPEM, cluster: body.cluster, lifetime: 60) } catch {
                throw APIError.invalid("csrPEM", "the CSR was refused: \(error)")
            }
            try await store.consumeJoinToken(cluster: body.cluster, secret: body.token)
            return try Response.json(try await issue(csrPEM: body.csrPEM, cluster: body.cluster, actor: "cluster:\(body.cluster)"), status: .created)
        }
        router.post("/v1/gateway/renew") { request, context in
            let cluster = try context.requireGateway()
            let body = try await StrictJSONBody(RenewRequest.fields).decode(RenewRequest.self, from: request, maxBytes: maxBodyBytes)
            return try Response.json(try await issue(csrPEM: body.csrPEM, cluster: cluster, actor: context.actor), status: .created)
        }
        router.get("/v1/gateway/config") { request, context in
            let cluster = try context.requireGateway()
            guard let index = Int64(request.query("index") ?? "0"), index >= 0 else {
                throw APIError.invalid("index", "'index' must be the X-Meridian-Index of a previous answer (an integer, 0 to start)")
            }
            let wait = try Self.parseWait(request.query("wait"), maximum: configuration.maxWatchWait)
            guard let published = await control.cache.watch(cluster: cluster, index: index, timeout: wait) else {
                return Response(status: .noContent, headers: [HTTPField.Name("X-Meridian-Index")!: "0"])
            }
            return Response(status: .ok, headers: [
                .contentType: "application/json",
                HTTPField.Name("X-Meridian-Index")!: String(published.version),
                HTTPField.Name("X-Meridian-Published-At")!: String(published.publishedAt.timeIntervalSince1970),
                HTTPField.Name("X-Meridian-Hash")!: published.hash,
            ], body: .init(byteBuffer: ByteBuffer(bytes: published.body)))
        }
        router.post("/v1/gateway/config/ack") { request, context in
            let cluster = try context.requireGateway()
            let body = try await StrictJSONBody(TableAck.fields).decode(TableAck.self, from: request, maxBytes: maxBodyBytes)
            var convergence: Double? = nil
            if let published = await control.cache.table(for: cluster), published.version == body.version {
                convergence = max(0, Date().timeIntervalSince(published.publishedAt) * 1000)
                control.metrics.makeDurationHistogram(
                    descriptor: HubControlPlane.metric("proxy_convergence", "seconds", "Time from a table's publication to the gateway's acknowledgement"),
                    buckets: HubControlPlane.latencyBuckets)
                    .recordNanoseconds(Int64((convergence ?? 0) * 1_000_000))
            }
            try await store.acknowledgeTable(cluster: cluster, version: body.version, hash: body.hash, convergenceMs: convergence)
            return Response(status: .noContent)
        }
        router.post("/v1/gateway/heartbeat") { request, context in
            let cluster = try context.requireGateway()
            let buffer = try await request.body.collect(upTo: maxBodyBytes)
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let heartbeat: Heartbeat
            do { heartbeat = try decoder.decode(Heartbeat.self, from: Data(buffer.readableBytesView)) } catch let error as DecodingError {
                throw StrictJSONBody.map(error)
            }
            guard heartbeat.cluster == cluster else {
                throw APIError(status: 403, code: .forbidden, message: "gateway of '\(cluster)' cannot report for '\(heartbeat.cluster)'", field: "cluster")
            }
            try await store.recordHeartbeat(heartbeat)
            return Response(status: .noContent)
        }
    }

    func issue(csrPEM: String, cluster: String, actor: String) async throws -> IssuedCertificate {
        let now = Date()
        let issued: IssuedCertificate
        do {
            issued = try authority.ca.issueGatewayCertificate(csrPEM: csrPEM, cluster: cluster, lifetime: configuration.gatewayCertificateLifetime, now: now)
        } catch {
            throw APIError.invalid("csrPEM", "the CSR was refused: \(error)")
        }
        try await store.recordCertificate(issued, cluster: cluster, notBefore: now.addingTimeInterval(-300), actor: actor)
        return issued
    }

    /// Parses `30s`, `500ms`, `2m` (Consul's form); default 30 s.
    static func parseWait(_ text: String?, maximum: TimeInterval) throws -> Duration {
        guard let text, !text.isEmpty else { return .seconds(min(30, maximum)) }
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let value = Double(text.dropLast(suffix.count)), value >= 0 {
                return .milliseconds(Int64(min(value * scale, maximum) * 1000))
            }
        }
        throw APIError.invalid("wait", "'wait' must look like 30s, 500ms or 2m, got '\(text)'")
    }
}
