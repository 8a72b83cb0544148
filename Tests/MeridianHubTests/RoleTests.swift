import Foundation
import MeridianClient
import MeridianHub
import MeridianModel
import MeridianStore
import NIOHTTP1
import PostgresNIO
import Testing

/// Every role boundary: 401 without a valid token, 403 with the wrong role; a platform token cannot change
/// residency policy, a compliance token cannot register clusters.
@Suite("Roles")
struct RoleTests {
    static let policy = """
        apiVersion: meridian.dev/v1
        kind: ResidencyPolicy
        metadata: {name: roles}
        dataClasses:
          public:
            allow: ["*"]
        """

    struct Probe: Sendable {
        var method: HTTPMethod
        var path: String
        var body: String?
        /// Roles allowed (admin always is).
        var allowed: Set<Role>
    }

    static func probes(_ suffix: String) -> [Probe] {
        [
            Probe(method: .POST, path: "/v1/clusters", body: #"{"name":"c-\#(suffix)","region":"aws-eu-north-1","gatewayAddress":"h:1"}"#, allowed: [.platform]),
            Probe(method: .GET, path: "/v1/clusters", allowed: [.platform, .compliance, .viewer]),
            Probe(method: .GET, path: "/v1/regions", allowed: [.platform, .compliance, .viewer]),
            Probe(method: .PUT, path: "/v1/clusters/base/inventory", body: #"{"gpus":[]}"#, allowed: [.platform]),
            Probe(method: .POST, path: "/v1/clusters/base/join-tokens", body: "{}", allowed: [.platform]),
            Probe(method: .POST, path: "/v1/prices", body: #"{"prices":[]}"#, allowed: [.platform]),
            Probe(method: .PUT, path: "/v1/clusters/base/services/llama", body: #"{"port":8000}"#, allowed: [.platform]),
            Probe(method: .PUT, path: "/v1/policies/residency", body: policy, allowed: [.compliance]),
            Probe(method: .GET, path: "/v1/audit", allowed: [.compliance]),
            Probe(method: .POST, path: "/v1/tokens", body: #"{"name":"t-\#(suffix)","role":"viewer"}"#, allowed: []),
            Probe(method: .GET, path: "/v1/tokens", allowed: []),
            Probe(method: .GET, path: "/v1/routes/explain?from=base&service=llama&class=public", allowed: [.platform, .compliance, .viewer]),
        ]
    }

    @Test("each role may do exactly its own work")
    func roleMatrix() async throws {
        let hub = try await TestHub.start()
        defer { Task { await hub.stop() } }
        let admin = try hub.client()
        _ = try await admin.registerCluster(ClusterRegistration(name: "base", region: "aws-eu-central-1", gatewayAddress: "h:1"))
        var clients: [Role: HubClient] = [.admin: admin]
        for role in [Role.platform, .compliance, .viewer] {
            let token = try await admin.createToken(TokenCreateRequest(name: "\(role)-user", role: role))
            #expect(token.secret != nil)
            clients[role] = try hub.client(token: token.secret!)
        }
        for role in Role.allCases {
            for probe in Self.probes(role.rawValue) {
                let response = try await clients[role]!.send(probe.method, probe.path, body: probe.body.map { Data($0.utf8) })
                let allowed = role == .admin || probe.allowed.contains(role)
                if allowed {
                    #expect((200..<300).contains(response.status), "\(role) \(probe.method) \(probe.path): \(response.status) \(String(decoding: response.body, as: UTF8.self))")
                } else {
                    #expect(response.status == 403, "\(role) \(probe.method) \(probe.path) should be 403, got \(response.status)")
                    let body = try JSONDecoder().decode(APIErrorBody.self, from: response.body)
                    #expect(body.error.code == "forbidden")
                    #expect(body.error.message.contains(role.rawValue))
                }
            }
        }
    }

    @Test("no token, a wrong token, or a revoked token: 401")
    func unauthenticated() async throws {
        let hub = try await TestHub.start()
        defer { Task { await hub.stop() } }
        let admin = try hub.client()
        let viewer = try await admin.createToken(TokenCreateRequest(name: "soon-gone", role: .viewer))
        let revokedClient = try hub.client(token: viewer.secret!)
        #expect(try await revokedClient.send(.GET, "/v1/clusters").status == 200)
        try await admin.request(.DELETE, "/v1/tokens/soon-gone")
        for client in [try hub.anonymousClient(), try hub.client(token: "mrd_not-a-token"), revokedClient] {
            let response = try await client.send(.GET, "/v1/clusters")
            #expect(response.status == 401)
            #expect(try JSONDecoder().decode(APIErrorBody.self, from: response.body).error.code == "unauthenticated")
        }
    }

    @Test("tokens are stored hashed, never in clear")
    func tokensHashed() async throws {
        let hub = try await TestHub.start()
        defer { Task { await hub.stop() } }
        let token = try await hub.client().createToken(TokenCreateRequest(name: "hashed", role: .platform))
        let secret = try #require(token.secret)
        let stored = try await hub.withStore { store in
            let rows = try await store.client.query("SELECT secret_hash FROM api_tokens WHERE name = 'hashed'")
            var hashes: [String] = []
            for try await hash in rows.decode(String.self) { hashes.append(hash) }
            return hashes
        }
        #expect(stored == [TokenSecret.hash(secret)])
        #expect(!stored.contains(secret))
    }
}
