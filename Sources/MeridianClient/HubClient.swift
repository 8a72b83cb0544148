import AsyncHTTPClient
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeridianModel
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// A client of the hub's API, for the CLI (bearer token) and for gateways (mesh client certificate).
/// It verifies the hub against the mesh trust bundle.
public final class HubClient: Sendable {
    /// How the client proves who it is.
    public enum Credentials: Sendable {
        case none
        case token(String)
        /// PEM chain and PEM private key of a gateway.
        case certificate(chainPEM: String, privateKeyPEM: String)
    }

    /// A failure talking to the hub: the API's error body when there is one.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var status: Int
        public var error: APIError?
        public var message: String
        public var description: String {
            if let error { return "hub answered \(status): \(error)" }
            return message
        }
    }

    public let baseURLs: [String]
    /// The replica that answered last: requests go there first, so a dead replica costs one connect timeout, not
    /// one per request.
    private let preferred = Mutex(0)
    let http: HTTPClient
    let credentials: Credentials
    let timeout: TimeAmount

    /// - Parameters:
    ///   - baseURLs: one or more `https://HOST:PORT` of hub replicas; requests fail over in order.
    ///   - caPEM: the mesh trust bundle; nil trusts the system roots.
    public init(baseURLs: [String], credentials: Credentials, caPEM: String?, timeout: TimeAmount = .seconds(90)) throws {
        precondition(!baseURLs.isEmpty, "at least one hub address is needed")
        self.baseURLs = baseURLs.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.credentials = credentials
        self.timeout = timeout
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caPEM {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
        }
        if case .certificate(let chain, let key) = credentials {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(chain.utf8)).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem))
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(3), read: timeout)
        configuration.connectionPool = .init(idleTimeout: .seconds(120))
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    deinit {
        try? http.syncShutdown()
    }

    /// Shuts the connection pool down.
    public func shutdown() async throws { try await http.shutdown() }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    /// A raw response.
    public struct RawResponse: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: Data
    }

    /// Sends a request to the replica that answered last, then to the others in order; a hub that cannot be reached
    /// is skipped.
    public func send(_ method: HTTPMethod, _ path: String, body: Data? = nil, contentType: String = "application/json",
                     timeout: TimeAmount? = nil) async throws -> RawResponse {
        var lastError: (any Error)? = nil
        let first = preferred.withLock { $0 }
        for index in [first] + baseURLs.indices.filter({ $0 != first }) {
            let base = baseURLs[index]
            var request = HTTPClientRequest(url: base + path)
            request.method = method
            if case .token(let token) = credentials { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
            if let body {
                request.headers.add(name: "Content-Type", value: contentType)
                request.body = .bytes(ByteBuffer(bytes: body))
            }
            do {
                let response = try await http.execute(request, timeout: timeout ?? self.timeout)
                let buffer = try await response.body.collect(upTo: 64 << 20)
                if index != first { preferred.withLock { $0 = index } }
                return RawResponse(status: Int(response.status.code), headers: response.headers, body: Data(buffer.readableBytesView))
            } catch {
                lastError = error
                continue
            }
        }
        throw Failure(status: 0, error: nil, message: "no hub answered (\(baseURLs.joined(separator: ", "))): \(lastError.map { "\($0)" } ?? "unknown error")")
    }

    /// Sends and decodes JSON; an error status throws ``Failure`` with the API's error.
    public func request<Response: Decodable>(_ method: HTTPMethod, _ path: String, json: (any Encodable)? = nil,
                                             as type: Response.Type, timeout: TimeAmount? = nil) async throws -> Response {
        let body = try json.map { try Self.encoder.encode($0) }
        let response = try await send(method, path, body: body, timeout: timeout)
        try Self.check(response)
        return try Self.decoder.decode(type, from: response.body)
    }

    /// Sends without decoding a body.
    public func request(_ method: HTTPMethod, _ path: String, json: (any Encodable)? = nil) async throws {
        let body = try json.map { try Self.encoder.encode($0) }
        try Self.check(try await send(method, path, body: body))
    }

    static func check(_ response: RawResponse) throws {
        guard response.status >= 400 else { return }
        if let body = try? decoder.decode(APIErrorBody.self, from: response.body) {
            let error = APIError(status: response.status, code: .init(rawValue: body.error.code), message: body.error.message, field: body.error.field)
            throw Failure(status: response.status, error: error, message: error.description)
        }
        throw Failure(status: response.status, error: nil, message: "hub answered \(response.status): \(String(decoding: response.body.prefix(500), as: UTF8.self))")
    }

    /// Percent-encodes a query value.
    public static func query(_ items: [(String, String?)]) -> String {
        var components = URLComponents()
        components.queryItems = items.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        let text = components.percentEncodedQuery ?? ""
        return text.isEmpty ? "" : "?" + text.replacing("+", with: "%2B")
    }
}
