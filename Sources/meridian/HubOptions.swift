import ArgumentParser
import Foundation
import MeridianClient
import MeridianModel

/// How admin commands find the hub, as Consul's `CONSUL_HTTP_ADDR` / `CONSUL_HTTP_TOKEN`:
/// flags first, then `MERIDIAN_HUB`, `MERIDIAN_TOKEN`, `MERIDIAN_CA_FILE`.
struct HubOptions: ParsableArguments {
    @Option(name: .customLong("hub"), help: "Hub URL (env MERIDIAN_HUB), e.g. https://127.0.0.1:8443")
    var hub: String?

    @Option(name: .customLong("token"), help: "API token (env MERIDIAN_TOKEN)")
    var token: String?

    @Option(name: .customLong("ca-file"), help: "PEM trust bundle of the hub's CA (env MERIDIAN_CA_FILE)")
    var caFile: String?

    @Option(name: .customLong("output"), help: "table or json")
    var output: OutputFormat = .table

    func client() throws -> HubClient {
        let environment = ProcessInfo.processInfo.environment
        guard let hub = hub ?? environment["MERIDIAN_HUB"] else {
            throw ValidationError("no hub address: pass --hub https://HOST:PORT or set MERIDIAN_HUB")
        }
        guard let token = token ?? environment["MERIDIAN_TOKEN"] else {
            throw ValidationError("no API token: pass --token or set MERIDIAN_TOKEN")
        }
        var caPEM: String? = nil
        if let path = caFile ?? environment["MERIDIAN_CA_FILE"] {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ValidationError("cannot read the CA file '\(path)'") }
            caPEM = text
        }
        return try HubClient(baseURLs: hub.split(separator: ",").map(String.init), credentials: .token(token), caPEM: caPEM)
    }
}

enum OutputFormat: String, ExpressibleByArgument, Sendable {
    case table
    case json
}

/// Prints values as JSON or as an aligned table.
enum Printer {
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func prettyJSON(_ data: Data) {
        if let object = try? JSONSerialization.jsonObject(with: data),
           let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) {
            print(String(decoding: pretty, as: UTF8.self))
        } else {
            print(String(decoding: data, as: UTF8.self))
        }
    }

    static func table(_ header: [String], _ rows: [[String]]) {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }
        print(line(header))
        for row in rows { print(line(row)) }
    }
}

/// Runs a command body and turns hub failures into a clear message and exit code 1.
func reportingFailures(_ body: () async throws -> Void) async throws {
    do { try await body() } catch let failure as HubClient.Failure {
        var standardError = FileHandle.standardError
        if let error = failure.error {
            print("error: \(error.message)\(error.field.map { " (field: \($0))" } ?? "")", to: &standardError)
        } else {
            print("error: \(failure.message)", to: &standardError)
        }
        throw ExitCode(1)
    }
}

extension FileHandle: @retroactive TextOutputStream {
    public func write(_ string: String) { write(Data(string.utf8)) }
}
