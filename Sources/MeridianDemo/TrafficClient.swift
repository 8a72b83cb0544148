import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// An application in a cluster calling a model through its local gateway, as OpenAI-style clients do.
public final class TrafficClient: Sendable {
    /// What happened to one request.
    public struct Outcome: Sendable {
        public var status: Int
        /// Cluster whose model answered (`x-served-by`), nil when none did.
        public var servedBy: String?
        /// The gateway's routing decision header, when present.
        public var decision: String?
        public var startedAt: ContinuousClock.Instant
        public var firstByteAt: ContinuousClock.Instant?
        /// Wall-clock time of the first event (to compare with the model server's `produced_at`).
        public var firstEventWallClock: Date?
        public var finishedAt: ContinuousClock.Instant
        /// Server-sent events received, in order, with their arrival time.
        public var events: [(ContinuousClock.Instant, String)]
        public var error: String?

        public var succeeded: Bool { (200..<300).contains(status) && error == nil }
    }

    let http: HTTPClient

    public init() {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(2), read: .seconds(30))
        configuration.connectionPool = .init(idleTimeout: .seconds(30))
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async throws { try await http.shutdown() }

    /// The body of the last JSON response (non-streaming) or the concatenated events.
    /// `POST /v1/chat/completions` to `service` through the gateway at `gateway` (`HOST:PORT`).
    public func chat(gateway: String, service: String, dataClass: String?, stream: Bool = true, retryable: Bool = false,
                     maxTokens: Int? = nil, timeout: Duration = .seconds(30)) async -> Outcome {
        let started = ContinuousClock.now
        var request = HTTPClientRequest(url: "http://\(gateway)/v1/chat/completions")
        request.method = .POST
        request.headers.add(name: "Host", value: "\(service).meridian")
        request.headers.add(name: "Content-Type", value: "application/json")
        if let dataClass { request.headers.add(name: "meridian-data-class", value: dataClass) }
        if retryable { request.headers.add(name: "meridian-retry", value: "true") }
        let limit = maxTokens.map { #","max_tokens":\#($0)"# } ?? ""
        let body = #"{"model":"\#(service)","stream":\#(stream)\#(limit),"messages":[{"role":"user","content":"Where are you?"}]}"#
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await http.execute(request, timeout: .seconds(Int64(timeout.components.seconds)))
            var outcome = Outcome(status: Int(response.status.code), servedBy: response.headers.first(name: "x-served-by"),
                                  decision: response.headers.first(name: "meridian-decision"), startedAt: started, firstByteAt: nil,
                                  firstEventWallClock: nil, finishedAt: started, events: [], error: nil)
            var pending = ""
            for try await chunk in response.body {
                let now = ContinuousClock.now
                if outcome.firstByteAt == nil { outcome.firstByteAt = now }
                pending += String(buffer: chunk)
                while let range = pending.range(of: "\n\n") {
                    let event = String(pending[..<range.lowerBound])
                    pending = String(pending[range.upperBound...])
                    if event.hasPrefix("data: ") {
                        if outcome.events.isEmpty { outcome.firstEventWallClock = Date() }
                        outcome.events.append((now, String(event.dropFirst(6))))
                    }
                }
            }
            if !stream, !pending.isEmpty { outcome.events.append((ContinuousClock.now, pending)) }
            outcome.finishedAt = ContinuousClock.now
            return outcome
        } catch {
            return Outcome(status: 0, servedBy: nil, decision: nil, startedAt: started, firstByteAt: nil, firstEventWallClock: nil, finishedAt: ContinuousClock.now,
                           events: [], error: "\(error)")
        }
    }
}
