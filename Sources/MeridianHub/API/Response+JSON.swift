import Foundation
import Hummingbird

extension Response {
    static let apiEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    /// A JSON response with sorted keys and ISO 8601 dates.
    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try apiEncoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A plain-text response.
    static func text(_ value: String, status: HTTPResponse.Status = .ok, contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: value)))
    }
}

extension Request {
    /// A query parameter as a String.
    func query(_ name: String) -> String? {
        uri.queryParameters[name[...]].map(String.init)
    }
}
