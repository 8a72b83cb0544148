import HTTPTypes
import Hummingbird

/// Registers routes on a Hummingbird router and remembers them (`GET /v1/clusters/{name}`), so a test can check
/// that the served API and `docs/openapi.yaml` agree.
final class RouteRegistry {
    let router: Hummingbird.Router<HubRequestContext>
    private(set) var routes: [String] = []

    /// Every registered route as `METHOD PATH`, in registration order.
    init(router: Hummingbird.Router<HubRequestContext>) { self.router = router }


    typealias Handler = @Sendable (Request, HubRequestContext) async throws -> Response

    private func add(_ method: HTTPRequest.Method, _ path: String, _ handler: @escaping Handler) {
        routes.append("\(method.rawValue) \(path)")
        router.on(RouterPath(path), method: method, use: handler)
    }

    func get(_ path: String, use handler: @escaping Handler) { add(.get, path, handler) }
    func post(_ path: String, use handler: @escaping Handler) { add(.post, path, handler) }
    func put(_ path: String, use handler: @escaping Handler) { add(.put, path, handler) }
    func patch(_ path: String, use handler: @escaping Handler) { add(.patch, path, handler) }
    func delete(_ path: String, use handler: @escaping Handler) { add(.delete, path, handler) }
}
