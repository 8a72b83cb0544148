import Foundation
import Hummingbird
import Logging
import MeridianModel

/// Turns every error into `{"error": {"code", "message", "field"}}` with one status; unexpected errors become a
/// 500 whose body holds no internals (they go to the log).
struct APIErrorMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return Self.response(error)
        } catch let error as HTTPError {
            let code: APIError.Code = switch error.status.code {
            case 404: .notFound
            case 401: .unauthenticated
            case 403: .forbidden
            case 413: .bodyTooLarge
            default: .invalidField
            }
            let message = error.body ?? (error.status.code == 404 ? "no such endpoint: \(request.method) \(request.uri.path); see docs/openapi.yaml" : error.status.reasonPhrase)
            return Self.response(APIError(status: error.status.code, code: code, message: message, field: error.status.code == 413 ? "body" : nil))
        } catch {
            context.logger.error("request failed", metadata: ["meridian.error": "\(String(reflecting: error))", "meridian.path": "\(request.uri.path)"])
            return Self.response(APIError(status: 500, code: .internalError, message: "the hub failed to handle the request; see the hub's log (request \(context.id))"))
        }
    }

    static func response(_ error: APIError) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(APIErrorBody(error))) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if error.status == 401 { headers[.wwwAuthenticate] = "Bearer realm=\"meridian\"" }
        return Response(status: .init(code: error.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
