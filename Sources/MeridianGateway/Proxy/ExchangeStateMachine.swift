/// The life of one proxied request, as a value: which attempt it is on, whether the response has started, and what
/// to do when something happens. ``ProxyExchange`` feeds it events and carries out the actions; it never touches a
/// channel itself, so it is tested without sockets.
///
/// Retry rules: a connect failure (nothing reached the destination) or a refused stream (`REFUSED_STREAM`: the
/// destination did not process it) is retried on the next destination whatever the method; a reset before the response head, or a 502/503/504 head, is retried only for idempotent requests
/// (GET, HEAD, OPTIONS, PUT, DELETE, TRACE, or `meridian-retry: true`). Every retry needs the request to be
/// replayable (its body still held, see ``ResilienceSettings/retryBufferBytes``), an attempt left, and the retry
/// budget's consent (asked last, so a retry that is not otherwise possible does not spend budget).
public struct ExchangeStateMachine: Sendable, Hashable {
    public enum Phase: Sendable, Hashable {
        /// Waiting for a connection or stream to the current attempt's destination.
        case connecting
        /// The request is on its way; no response head yet.
        case awaitingResponse
        /// The response head went to the client; body parts follow.
        case streamingResponse
        /// Done: answered, aborted, or the client went away.
        case finished
    }

    /// What the exchange must do after a failure.
    public enum FailureAction: Sendable, Hashable {
        /// Try the next destination.
        case retry
        /// Answer the client with a gateway error (nothing was sent yet).
        case respond(status: Int)
        /// The response already started: cut the client's stream or connection.
        case abortDownstream
        /// Nothing to do (already finished).
        case none
    }

    /// What to do with a response head.
    public enum HeadAction: Sendable, Hashable {
        case forward
        case retry
        /// The exchange is finished; drop it.
        case ignore
    }

    public private(set) var phase: Phase = .connecting
    /// Attempts started so far.
    public private(set) var attempts = 0
    public private(set) var requestEnded = false
    public let idempotent: Bool
    public let maxAttempts: Int

    public init(idempotent: Bool, maxAttempts: Int) {
        self.idempotent = idempotent
        self.maxAttempts = max(1, maxAttempts)
    }

    private var attemptsLeft: Bool { attempts < maxAttempts }

    /// A new attempt starts (the first one too).
    public mutating func startAttempt() {
        guard phase != .finished else { return }
        attempts += 1
        phase = .connecting
    }

    /// The upstream stream or connection is there and the request head was written.
    public mutating func attached() {
        guard phase == .connecting else { return }
        phase = .awaitingResponse
    }

    /// The client sent the end of its request.
    public mutating func requestEnd() {
        requestEnded = true
    }

    /// No connection or stream could be had for the current attempt.
    public mutating func connectFailed(replayable: Bool, retryAllowed: () -> Bool) -> FailureAction {
        guard phase == .connecting else { return phase == .finished ? .none : .respond(status: 503) }
        if replayable && attemptsLeft && retryAllowed() { return .retry }
        phase = .finished
        return .respond(status: 503)
    }

    /// The upstream stream or connection failed or closed before the response ended.
    public mutating func upstreamFailed(replayable: Bool, retryAllowed: () -> Bool) -> FailureAction {
        switch phase {
        case .connecting:
            return connectFailed(replayable: replayable, retryAllowed: retryAllowed)
        case .awaitingResponse:
            if idempotent && replayable && attemptsLeft && retryAllowed() { return .retry }
            phase = .finished
            return .respond(status: 502)
        case .streamingResponse:
            phase = .finished
            return .abortDownstream
        case .finished:
            return .none
        }
    }

    /// The destination refused the stream unprocessed (HTTP/2 `REFUSED_STREAM`, RFC 9113 8.7): like a connect
    /// failure, safe to retry whatever the method.
    public mutating func upstreamRefused(replayable: Bool, retryAllowed: () -> Bool) -> FailureAction {
        switch phase {
        case .connecting, .awaitingResponse:
            if replayable && attemptsLeft && retryAllowed() { return .retry }
            phase = .finished
            return .respond(status: 503)
        case .streamingResponse:
            phase = .finished
            return .abortDownstream
        case .finished:
            return .none
        }
    }

    /// A final (non-1xx) response head arrived.
    /// The statuses a response may be retried on: the destination could not serve it (502, 503, 504).
    public static let retriedStatuses = 502...504

    public mutating func responseHead(status: Int, replayable: Bool, retryAllowed: () -> Bool) -> HeadAction {
        guard phase == .awaitingResponse || phase == .connecting else { return .ignore }
        if Self.retriedStatuses.contains(status) && idempotent && replayable && attemptsLeft && retryAllowed() { return .retry }
        phase = .streamingResponse
        return .forward
    }

    /// The response ended. Returns whether the upstream connection may be reused (the request was sent whole).
    public mutating func responseEnd() -> Bool {
        guard phase == .streamingResponse else { return false }
        phase = .finished
        return requestEnded
    }

    /// The service's timeout passed.
    public mutating func timedOut() -> FailureAction {
        switch phase {
        case .connecting, .awaitingResponse:
            phase = .finished
            return .respond(status: 504)
        case .streamingResponse:
            phase = .finished
            return .abortDownstream
        case .finished:
            return .none
        }
    }

    /// The gateway answered the client itself, or the client went away.
    public mutating func finish() {
        phase = .finished
    }
}
