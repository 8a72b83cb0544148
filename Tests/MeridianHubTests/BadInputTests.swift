import Foundation
import MeridianClient
import MeridianHub
import MeridianModel
import MeridianStore
import NIOHTTP1
import PostgresNIO
import Testing

/// Bad input gets 400 (or 404/409) with `{"error": {"code", "message", "field"}}` naming the field, and writes
/// nothing: every table's row count, the audit log included, is the same afterwards.
@Suite("Bad input is refused and changes nothing", .serialized)
struct BadInputTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var method: HTTPMethod
        var path: String
        var body: String?
        var status: Int
        var code: String
        var field: String?
        var description: String { name }
    }

    static let validCluster = #"{"name":"fra","region":"aws-eu-central-1","gatewayAddress":"10.0.0.1:15443"}"#

    static let cases: [Case] = [
        Case(name: "malformed JSON", method: .POST, path: "/v1/clusters", body: #"{"name": "x", "#, status: 400, code: "invalid_json", field: "body"),
        Case(name: "not an object", method: .POST, path: "/v1/clusters", body: "[1,2]", status: 400, code: "invalid_json", field: "body"),
        Case(name: "empty body", method: .POST, path: "/v1/clusters", body: "", status: 400, code: "invalid_json", field: "body"),
        Case(name: "unknown field", method: .POST, path: "/v1/clusters", body: #"{"name":"a","region":"aws-eu-central-1","gatewayAddress":"h:1","colour":"red"}"#, status: 400, code: "unknown_field", field: "colour"),
        Case(name: "missing field", method: .POST, path: "/v1/clusters", body: #"{"name":"a","gatewayAddress":"h:1"}"#, status: 400, code: "missing_field", field: "region"),
        Case(name: "wrong type", method: .POST, path: "/v1/clusters", body: #"{"name":7,"region":"aws-eu-central-1","gatewayAddress":"h:1"}"#, status: 400, code: "invalid_field", field: "name"),
        Case(name: "name not a DNS label", method: .POST, path: "/v1/clusters", body: #"{"name":"EU_West","region":"aws-eu-central-1","gatewayAddress":"h:1"}"#, status: 400, code: "invalid_field", field: "name"),
        Case(name: "unknown region", method: .POST, path: "/v1/clusters", body: #"{"name":"a","region":"mars-north-1","gatewayAddress":"h:1"}"#, status: 400, code: "invalid_field", field: "region"),
        Case(name: "bad gateway address", method: .POST, path: "/v1/clusters", body: #"{"name":"a","region":"aws-eu-central-1","gatewayAddress":"nowhere"}"#, status: 400, code: "invalid_field", field: "gatewayAddress"),
        Case(name: "duplicate cluster", method: .POST, path: "/v1/clusters", body: validCluster, status: 409, code: "conflict", field: "name"),
        Case(name: "negative GPU count", method: .PUT, path: "/v1/clusters/fra/inventory",
             body: #"{"gpus":[{"model":"H100","total":-1,"allocatable":0,"inUse":0,"memoryGiB":80,"utilization":0.1}]}"#, status: 400, code: "invalid_field", field: "gpus[0].total"),
        Case(name: "allocatable above total", method: .PUT, path: "/v1/clusters/fra/inventory",
             body: #"{"gpus":[{"model":"H100","total":4,"allocatable":8,"inUse":0,"memoryGiB":80,"utilization":0.1}]}"#, status: 400, code: "invalid_field", field: "gpus[0].allocatable"),
        Case(name: "unknown nested field", method: .PUT, path: "/v1/clusters/fra/inventory",
             body: #"{"gpus":[{"model":"H100","total":4,"allocatable":4,"inUse":0,"memoryGiB":80,"utilization":0.1,"vendor":"x"}]}"#, status: 400, code: "unknown_field", field: "gpus[0].vendor"),
        Case(name: "utilisation above one", method: .PUT, path: "/v1/clusters/fra/inventory",
             body: #"{"gpus":[{"model":"H100","total":4,"allocatable":4,"inUse":0,"memoryGiB":80,"utilization":1.5}]}"#, status: 400, code: "invalid_field", field: "gpus[0].utilization"),
        Case(name: "inventory of a missing cluster", method: .PUT, path: "/v1/clusters/nowhere/inventory", body: #"{"gpus":[]}"#, status: 404, code: "not_found", field: nil),
        Case(name: "price batch with one bad region is refused whole", method: .POST, path: "/v1/prices",
             body: #"{"prices":[{"region":"aws-eu-central-1","gpuModel":"H100","onDemandPerHour":10,"currency":"USD","effectiveFrom":"2026-01-01T00:00:00Z","source":"t"},{"region":"nowhere","gpuModel":"H100","onDemandPerHour":10,"currency":"USD","effectiveFrom":"2026-01-01T00:00:00Z","source":"t"}]}"#,
             status: 400, code: "invalid_field", field: "prices[1].region"),
        Case(name: "negative price", method: .POST, path: "/v1/prices",
             body: #"{"prices":[{"region":"aws-eu-central-1","gpuModel":"H100","onDemandPerHour":-3,"currency":"USD","effectiveFrom":"2026-01-01T00:00:00Z","source":"t"}]}"#,
             status: 400, code: "invalid_field", field: "prices[0].onDemandPerHour"),
        Case(name: "malformed CSV", method: .POST, path: "/v1/prices/import", body: "Region,Price\nx,1\n", status: 400, code: "invalid_field", field: "file"),
        Case(name: "service port out of range", method: .PUT, path: "/v1/clusters/fra/services/llama", body: #"{"port":70000}"#, status: 400, code: "invalid_field", field: "port"),
        Case(name: "join token lifetime too long", method: .POST, path: "/v1/clusters/fra/join-tokens", body: #"{"ttlSeconds":99999999}"#, status: 400, code: "invalid_field", field: "ttlSeconds"),
        Case(name: "remove a missing cluster", method: .DELETE, path: "/v1/clusters/nowhere", body: nil, status: 404, code: "not_found", field: nil),
        Case(name: "bad label filter", method: .GET, path: "/v1/clusters?label=novalue", body: nil, status: 400, code: "invalid_field", field: "label"),
        Case(name: "bad limit", method: .GET, path: "/v1/clusters?limit=-4", body: nil, status: 400, code: "invalid_field", field: "limit"),
        Case(name: "malformed policy", method: .PUT, path: "/v1/policies/residency",
             body: "apiVersion: meridian.dev/v1\nkind: ResidencyPolicy\nmetadata: {name: x}\ndataClasses:\n  eu-personal:\n    allow: [ATLANTIS]\n", status: 400, code: "invalid_policy", field: nil),
        Case(name: "unknown endpoint", method: .GET, path: "/v1/nothing-here", body: nil, status: 404, code: "not_found", field: nil),
    ]

    @Test("every bad request gets its status and a field, and leaves every table unchanged")
    func refusedRequestsWriteNothing() async throws {
        let hub = try await TestHub.start()
        defer { Task { await hub.stop() } }
        let client = try hub.client()
        _ = try await client.registerCluster(ClusterRegistration(name: "fra", region: "aws-eu-central-1", gatewayAddress: "10.0.0.1:15443"))
        // The leader publishes fra's first table on its own; let it, so that only the requests below could write.
        let deadline = ContinuousClock.now + .seconds(20)
        while try await hub.withStore({ try await $0.rowCounts()["routing_tables"] ?? 0 }) == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        let before = try await hub.withStore { try await $0.rowCounts() }
        for testCase in Self.cases {
            let response = try await client.send(testCase.method, testCase.path, body: testCase.body.map { Data($0.utf8) })
            #expect(response.status == testCase.status, "\(testCase.name): status \(response.status), body \(String(decoding: response.body, as: UTF8.self))")
            let body = try JSONDecoder().decode(APIErrorBody.self, from: response.body)
            #expect(body.error.code == testCase.code, "\(testCase.name): code \(body.error.code)")
            if let field = testCase.field { #expect(body.error.field == field, "\(testCase.name): field \(body.error.field ?? "nil")") }
            #expect(!body.error.message.isEmpty)
        }
        let after = try await hub.withStore { try await $0.rowCounts() }
        #expect(before == after, "a refused request changed the database: \(before) -> \(after)")
    }

    @Test("an oversized body is refused before it is parsed")
    func oversizedBody() async throws {
        let hub = try await TestHub.start { $0.maxRequestBodyBytes = 4096 }
        defer { Task { await hub.stop() } }
        let client = try hub.client()
        let before = try await hub.withStore { try await $0.rowCounts() }
        let labels = (0..<60).map { "\"k\($0)\":\"\(String(repeating: "v", count: 60))\"" }.joined(separator: ",")
        let body = #"{"name":"big","region":"aws-eu-central-1","gatewayAddress":"h:1","labels":{\#(labels)}}"#
        let response = try await client.send(.POST, "/v1/clusters", body: Data(body.utf8))
        #expect(response.status == 400)
        let error = try JSONDecoder().decode(APIErrorBody.self, from: response.body)
        #expect(error.error.code == "body_too_large")
        #expect(error.error.field == "body")
        let after = try await hub.withStore { try await $0.rowCounts() }
        #expect(before == after)
    }
}
