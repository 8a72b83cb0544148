import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A response as a test sees it.
struct TestResponse: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: String

    var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
    }
}

/// An HTTP/1.1 client built on `NIOAsyncChannel`, for requests through the local listener.
enum TestClient {
    typealias Connection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    static func connect(port: Int) async throws -> Connection {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
    }

    static func head(_ method: HTTPMethod, _ path: String, host: String, headers: [(String, String)]) -> HTTPRequestHead {
        var fields = HTTPHeaders([("host", host)])
        for (name, value) in headers { fields.add(name: name, value: value) }
        return HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: fields)
    }

    /// Sends one request and collects the response.
    static func send(port: Int, _ method: HTTPMethod = .GET, _ path: String, host: String = "chat.meridian",
                     headers: [(String, String)] = [], body: String? = nil) async throws -> TestResponse {
        let connection = try await connect(port: port)
        return try await connection.executeThenClose { inbound, outbound in
            var head = head(method, path, host: host, headers: headers)
            if let body { head.headers.add(name: "content-length", value: String(body.utf8.count)) }
            // One write, as curl sends a small request in one segment: a gateway that answers at the head (a
            // refusal, an overflow) and closes must not fail the client's write of the rest.
            var parts: [HTTPClientRequestPart] = [.head(head)]
            if let body { parts.append(.body(.byteBuffer(ByteBuffer(string: body)))) }
            parts.append(.end(nil))
            try await outbound.write(contentsOf: parts)
            return try await collect(inbound)
        }
    }

    /// Writes `bytes` as they are (one write) and returns everything read until the gateway closes the connection;
    /// `nil` when it has not closed it after 10 s.
    static func sendRaw(port: Int, _ bytes: String) async throws -> String? {
        try await sendRaw(port: port, parts: [bytes])
    }

    /// ``sendRaw(port:_:)`` with `parts` written one by one, `pause` apart.
    static func sendRaw(port: Int, parts: [String], pause: Duration = .milliseconds(100)) async throws -> String? {
        let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        return try await connection.executeThenClose { inbound, outbound in
            for (index, part) in parts.enumerated() {
                if index > 0 { try await Task.sleep(for: pause) }
                try await outbound.write(ByteBuffer(string: part))
            }
            return try await within(.seconds(10)) {
                var received = ""
                for try await buffer in inbound { received += String(buffer: buffer) }
                return received
            }
        }
    }

    /// `body`'s result, or `nil` (and `body` cancelled) when it takes longer than `limit`: a test waiting for the
    /// gateway to close a connection fails instead of hanging when it does not.
    static func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    static func collect(_ inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>) async throws -> TestResponse {
        var response = TestResponse(status: 0, headers: [:], body: "")
        for try await part in inbound {
            switch part {
            case .head(let head):
                response.status = Int(head.status.code)
                response.headers = head.headers
            case .body(let buffer):
                response.body += String(buffer: buffer)
            case .end:
                return response
            }
        }
        return response
    }
}
