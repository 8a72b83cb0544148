import Hummingbird
import MeridianModel
import MeridianStore
import NIOCore

/// Identifies the caller: a bearer token (humans, tools) or the mesh client certificate of a gateway.
/// It never refuses by itself; handlers state which callers they accept (``HubRequestContext/require(_:)``).
struct Authenticator: RouterMiddleware {
    typealias Context = HubRequestContext

    let store: MeridianStore
    /// Maps the TLS peer of a channel to a gateway identity (nil when there is none or it is not valid).
    let gatewayIdentity: @Sendable (any Channel) async -> (cluster: String, serial: String)?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let header = request.headers[.authorization] {
            guard header.hasPrefix("Bearer "), case let secret = String(header.dropFirst("Bearer ".count)), !secret.isEmpty,
                  let token = try await store.authenticate(secret: secret) else {
                throw APIError(status: 401, code: .unauthenticated, message: "the bearer token is unknown, expired or revoked; create one with 'meridian token create'")
            }
            context.caller = .token(name: token.name, role: token.role)
        } else if let identity = await gatewayIdentity(context.channel) {
            if try await store.isRevoked(serial: identity.serial) {
                throw APIError(status: 403, code: .forbidden, message: "certificate \(identity.serial) of cluster '\(identity.cluster)' is revoked")
            }
            context.caller = .gateway(cluster: identity.cluster, serial: identity.serial)
        }
        return try await next(request, context)
    }
}
