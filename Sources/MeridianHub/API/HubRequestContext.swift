import Hummingbird
import Logging
import MeridianModel
import NIOCore

/// Who made a request.
public enum Caller: Sendable, Hashable {
    /// A human or tool with an API token.
    case token(name: String, role: Role)
    /// A gateway, by the SPIFFE ID of its client certificate.
    case gateway(cluster: String, serial: String)

    /// How the audit log names the caller.
    public var auditName: String {
        switch self {
        case .token(let name, _): "token:\(name)"
        case .gateway(let cluster, _): "cluster:\(cluster)"
        }
    }
}

/// Request context of the hub's API: the channel (for the TLS peer certificate) and the authenticated caller.
public struct HubRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel
    public var caller: Caller?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
        self.caller = nil
    }

    /// Bodies are read through ``StrictJSONBody`` with its own limit; this is Hummingbird's outer bound.
    public var maxUploadSize: Int { 16 * 1024 * 1024 }

    /// The caller's audit name; `anonymous` only for the join endpoint before the token is checked.
    var actor: String { caller?.auditName ?? "anonymous" }

    /// Throws 403 unless the caller holds one of `roles` (admin always passes).
    func require(_ roles: Role...) throws {
        guard case .token(let name, let role)? = caller else {
            throw APIError(status: 401, code: .unauthenticated, message: "this endpoint needs an API token: send 'Authorization: Bearer TOKEN'")
        }
        guard role == .admin || roles.contains(role) else {
            throw APIError(status: 403, code: .forbidden,
                           message: "token '\(name)' has role '\(role)'; this action needs \(roles.map(\.rawValue).joined(separator: " or ")) (or admin)")
        }
    }

    /// The calling gateway's cluster; 403 for anything else.
    func requireGateway() throws -> String {
        guard case .gateway(let cluster, _)? = caller else {
            throw APIError(status: 403, code: .forbidden, message: "this endpoint is for gateways: present the gateway's mesh client certificate")
        }
        return cluster
    }
}
