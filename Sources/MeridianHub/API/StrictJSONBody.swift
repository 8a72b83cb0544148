import Foundation
import Hummingbird
import MeridianModel

/// Decodes request bodies strictly: a JSON object, no unknown fields (at the top level and in known nested lists),
/// every type right, with errors that name the field. An oversized body is refused before it is parsed.
struct StrictJSONBody {
    /// Allowed fields per path; nested list elements are written `name[]`.
    var allowed: [String: Set<String>]

    init(_ top: Set<String>, nested: [String: Set<String>] = [:]) {
        var allowed = nested
        allowed[""] = top
        self.allowed = allowed
    }

    func decode<T: Decodable>(_ type: T.Type, from request: Request, maxBytes: Int) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBytes)
        } catch {
            throw APIError(status: 400, code: .bodyTooLarge, message: "the request body exceeds \(maxBytes) bytes", field: "body")
        }
        let data = Data(buffer.readableBytesView)
        return try decode(type, from: data)
    }

    func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        guard !data.isEmpty else { throw APIError(status: 400, code: .invalidJSON, message: "the request body is empty; send a JSON object", field: "body") }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw APIError(status: 400, code: .invalidJSON, message: "the request body is not valid JSON", field: "body")
        }
        guard let dictionary = object as? [String: Any] else {
            throw APIError(status: 400, code: .invalidJSON, message: "the request body must be a JSON object", field: "body")
        }
        try check(dictionary, path: "", display: "")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            throw Self.map(error)
        }
    }

    private func check(_ object: [String: Any], path: String, display: String) throws {
        guard let fields = allowed[path] else { return }
        for key in object.keys.sorted() where !fields.contains(key) {
            let name = display.isEmpty ? key : "\(display).\(key)"
            throw APIError(status: 400, code: .unknownField,
                           message: "unknown field '\(name)'; allowed fields are \(fields.sorted().joined(separator: ", "))", field: name)
        }
        for (key, value) in object {
            let childPath = path.isEmpty ? "\(key)[]" : "\(path).\(key)[]"
            if let list = value as? [Any], allowed[childPath] != nil {
                for (index, element) in list.enumerated() {
                    let childDisplay = display.isEmpty ? "\(key)[\(index)]" : "\(display).\(key)[\(index)]"
                    guard let element = element as? [String: Any] else {
                        throw APIError.invalid(childDisplay, "'\(childDisplay)' must be an object")
                    }
                    try check(element, path: childPath, display: childDisplay)
                }
            }
        }
    }

    static func map(_ error: DecodingError) -> APIError {
        func path(_ codingPath: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            var parts = ""
            for key in codingPath + (last.map { [$0] } ?? []) {
                if let index = key.intValue { parts += "[\(index)]" } else { parts += parts.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
            return parts
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath, key)
            return APIError(status: 400, code: .missingField, message: "'\(field)' is required", field: field)
        case .typeMismatch(let expected, let context):
            let field = path(context.codingPath)
            return .invalid(field, "'\(field)' has the wrong type; expected \(describe(expected))")
        case .valueNotFound(let expected, let context):
            let field = path(context.codingPath)
            return .invalid(field, "'\(field)' must not be null; expected \(describe(expected))")
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            if field.isEmpty { return APIError(status: 400, code: .invalidJSON, message: "the request body is not valid JSON", field: "body") }
            return .invalid(field, "'\(field)' is invalid: \(context.debugDescription)")
        @unknown default:
            return APIError(status: 400, code: .invalidJSON, message: "the request body could not be decoded", field: "body")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        case is Date.Type: "an ISO 8601 date-time string"
        default: "\(type)"
        }
    }
}
