import Foundation
import MeridianHub
import Testing

/// `docs/openapi.yaml` describes exactly the routes the hub serves, and every operation documents its errors.
///
/// The document is read with a small line-based reader of its `paths:` section (the test target does not
/// depend on Yams): path keys are indented 2 spaces under `paths:`, methods 4, `responses:` 6 and status codes 8,
/// as in the document. Flow-style mappings (`{...}`) and `$ref`'d path items are not understood, so the
/// document does not use them there. The document's validity as OpenAPI 3.1 is checked separately with
/// `openapi-spec-validator`.
@Suite("OpenAPI document")
struct OpenAPITests {
    /// One operation of the document.
    struct Operation: Sendable {
        var method: String
        var path: String
        /// 1-based line of the method key.
        var line: Int
        /// Status codes (`200`, `4XX`, `default`) in the order written.
        var responses: [String] = []

        /// `GET /v1/clusters/{name}`, the form of `HubReady.routes`.
        var route: String { "\(method.uppercased()) \(path)" }
    }

    static let methods: Set<String> = ["get", "put", "post", "patch", "delete", "head", "options", "trace"]
    /// Operations that need no 4xx response: nothing about the request can be wrong.
    static let exemptFromErrors: Set<String> = ["/v1/health", "/metrics"]

    static var documentPath: String { TestHub.repositoryRoot + "/docs/openapi.yaml" }

    static func loadDocument() throws -> [Operation] {
        try parseOperations(String(contentsOfFile: documentPath, encoding: .utf8))
    }

    /// The operations under `paths:`.
    static func parseOperations(_ text: String) -> [Operation] {
        var operations: [Operation] = []
        var inPaths = false
        var path: String? = nil
        var current: Operation? = nil
        var inResponses = false

        func finish() {
            if let operation = current { operations.append(operation) }
            current = nil
            inResponses = false
        }

        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? String(raw.dropLast()) : String(raw)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let indent = line.prefix(while: { $0 == " " }).count
            switch indent {
            case 0:
                finish()
                inPaths = mappingKey(trimmed) == "paths"
                path = nil
            case _ where !inPaths:
                continue
            case 2:
                finish()
                path = mappingKey(trimmed)
            case 4:
                finish()
                if let key = mappingKey(trimmed), methods.contains(key), let path {
                    current = Operation(method: key, path: path, line: index + 1)
                }
            case 6 where current != nil:
                inResponses = mappingKey(trimmed) == "responses"
            case 8 where current != nil && inResponses:
                if let code = mappingKey(trimmed) { current?.responses.append(code) }
            default:
                continue
            }
        }
        finish()
        return operations
    }

    /// The key of a `key:` or `key: value` line, without quotes; nil for anything else (list items, scalars).
    static func mappingKey(_ line: String) -> String? {
        guard let first = line.first, first != "-" else { return nil }
        if first == "'" || first == "\"" {
            let rest = line.dropFirst()
            guard let close = rest.firstIndex(of: first) else { return nil }
            let after = rest[rest.index(after: close)...]
            guard after == ":" || after.hasPrefix(": ") else { return nil }
            return String(rest[..<close])
        }
        if line.hasSuffix(":") { return String(line.dropLast()) }
        guard let separator = line.range(of: ": ") else { return nil }
        return String(line[..<separator.lowerBound])
    }

    @Test("every operation of docs/openapi.yaml documents a 4xx response")
    func everyOperationDocumentsErrors() throws {
        let operations = try Self.loadDocument()
        #expect(operations.count > 0, "no operations found under 'paths:' in \(Self.documentPath)")

        var seen: [String: Int] = [:]
        for operation in operations {
            if let first = seen[operation.route] {
                Issue.record("\(operation.route) is documented twice (lines \(first) and \(operation.line))")
            }
            seen[operation.route] = operation.line
        }

        let missing = operations
            .filter { !Self.exemptFromErrors.contains($0.path) }
            .filter { !$0.responses.contains { $0.hasPrefix("4") } }
            .map { "\($0.route) (line \($0.line), responses: \($0.responses.joined(separator: ", ")))" }
        #expect(missing.isEmpty, "operations without a 4xx response:\n  \(missing.joined(separator: "\n  "))")

        let withoutSuccess = operations
            .filter { !$0.responses.contains { $0.hasPrefix("2") } }
            .map { "\($0.route) (line \($0.line))" }
        #expect(withoutSuccess.isEmpty, "operations without a 2xx response:\n  \(withoutSuccess.joined(separator: "\n  "))")
    }

    @Test("the served routes and docs/openapi.yaml agree")
    func servedRoutesMatchDocument() async throws {
        let hub = try await TestHub.start()
        defer { Task { await hub.stop() } }

        let served = Set(hub.ready.routes)
        let documented = Set(try Self.loadDocument().map(\.route))
        #expect(served.count > 0, "the hub reported no routes")

        let undocumented = served.subtracting(documented).sorted()
        let unserved = documented.subtracting(served).sorted()
        var message = "docs/openapi.yaml and the hub's routes differ."
        if !undocumented.isEmpty {
            message += "\nServed but not in docs/openapi.yaml:\n  " + undocumented.joined(separator: "\n  ")
        }
        if !unserved.isEmpty {
            message += "\nIn docs/openapi.yaml but not served:\n  " + unserved.joined(separator: "\n  ")
        }
        #expect(undocumented.isEmpty && unserved.isEmpty, "\(message)")
    }

    @Test("the line-based reader understands the layout it relies on")
    func readerUnderstandsLayout() {
        let text = """
            openapi: 3.1.0
            paths:
              # a comment
              /v1/things/{id}:
                parameters:
                  - name: id
                get:
                  description: |
                    Text: with a colon.
                  responses:
                    '200':
                      description: ok
                    "404":
                      $ref: '#/components/responses/NotFound'
                delete:
                  responses:
                    204:
                      description: gone
              '/metrics':
                get:
                  responses:
                    '200': {description: ok}
            components:
              schemas:
                get:
                  type: object
            """
        let operations = OpenAPITests.parseOperations(text)
        #expect(operations.map(\.route) == ["GET /v1/things/{id}", "DELETE /v1/things/{id}", "GET /metrics"])
        #expect(operations.map(\.responses) == [["200", "404"], ["204"], ["200"]])
    }
}
