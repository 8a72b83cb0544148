import MeridianModel
import NIOCore
import NIOHTTP1
import NIOHTTP2

/// One proxied request: the glue between the client's channel (``DownstreamHandler``) and an upstream stream or
/// connection (``UpstreamHandler``), on one event loop, with no hop between threads or tasks.
///
/// Request parts go upstream as they arrive (held in memory only while the upstream is being connected, and kept
/// for a retry only up to ``ResilienceSettings/retryBufferBytes``); response parts go to the client as they
/// arrive, flushed at the end of every read so a token stream's first event is not delayed. Reads stop on one side
/// while the other is not writable. Lifecycle decisions come from ``ExchangeStateMachine``.
final class ProxyExchange: DeadlineHolder, UpstreamWaiter {
    let worker: ForwardingWorker
    private var downstream: DownstreamHandler?
    private let downstreamVersion: HTTPVersion
    /// The listener the request came in on (kept: the client may be gone when the exchange ends).
    private let listener: DownstreamHandler.Listener
    private let keepAlive: Bool
    private let isGRPC: Bool
    private var upstreamHead: RequestHead
    private let plan: ForwardPlan
    private var tried = TriedDestinations()
    private var machine: ExchangeStateMachine
    private var upstream: UpstreamHandler?
    private var target: UpstreamTarget?
    private var unsent = LazyQueue<RequestPart>()
    private var unsentBytes = 0
    /// Every request part so far, for a retry; `nil` once the body outgrew the retry buffer.
    private var retained: [RequestPart]? = []
    /// The end of the request, once it came (`.some(trailers)`), kept for a retry apart from ``retained``: a request
    /// without a body (most) then needs no array.
    private var retainedEnd: HeaderFields?? = nil
    private var retainedBytes = 0
    /// `start` is running, inside the read that brought the client's head (whose completion flushes upstream).
    private var startingInRead = false
    private var everAttached = false
    /// Cleared when the upstream said it closes its connection after this response.
    private var upstreamKeepsAlive = true
    /// The last attempt was refused by circuit breaking (its destination at its stream or pending limit).
    private var lastAttemptOverflowed = false
    /// The route's timeout, in the worker's ``ExchangeDeadlines``.
    private var deadline: ExchangeDeadlines.Entry?
    private(set) var record: AccessRecord
    private let started: NIODeadline
    private var requestBytes: Int64 = 0
    private var responseBytes: Int64 = 0

    /// Request bytes held while the upstream is connecting before reads pause.
    private static let holdThreshold = 256 * 1024

    /// What the exchange needs of the client's head as it came (the head itself becomes the upstream's).
    struct Request {
        var version: HTTPVersion
        var keepsAlive: Bool
        var isGRPC: Bool
        var idempotent: Bool

        init(_ head: borrowing RequestHead) {
            version = head.version
            let fields = head.headers.exchangeFields(version: head.version)
            keepsAlive = fields.keepsAlive
            isGRPC = fields.isGRPC
            idempotent = head.method.isIdempotent || fields.asksRetry
        }
    }

    init(worker: ForwardingWorker, downstream: DownstreamHandler, request: Request, upstreamHead: RequestHead,
         plan: ForwardPlan, record: AccessRecord, started: NIODeadline) {
        self.worker = worker
        self.downstream = downstream
        self.downstreamVersion = request.version
        self.listener = downstream.listener
        self.keepAlive = downstream.isHTTP2Stream || request.keepsAlive
        self.isGRPC = request.isGRPC
        self.upstreamHead = upstreamHead
        self.plan = plan
        self.machine = ExchangeStateMachine(idempotent: request.idempotent,
                                            maxAttempts: worker.context.configuration.resilience.maxAttempts)
        self.record = record
        self.started = started
    }

    var requestEnded: Bool { machine.requestEnded }
    var downstreamWritable: Bool { downstream?.isWritable ?? true }

    /// Whether the client's reads should wait: the upstream is not there yet and enough is held, or it cannot take
    /// more.
    var shouldHoldDownstreamReads: Bool {
        if machine.phase == .finished { return false }
        if let upstream, machine.phase != .connecting { return !upstream.isWritable }
        return unsentBytes >= Self.holdThreshold
    }

    private var replayable: Bool { retained != nil || !everAttached }

    // MARK: Lifecycle

    func start() {
        deadline = worker.deadlines.add(self, timeout: plan.timeout)
        startingInRead = true
        attempt()
        startingInRead = false
    }

    private func attempt() {
        machine.startAttempt()
        guard let next = worker.nextTarget(plan, tried: &tried) else {
            if lastAttemptOverflowed {
                // Circuit breaking, not a failure: say so (503 `overflow`), as the docs promise.
                fail(status: 503, code: .overflow,
                     message: "every destination of '\(plan.service)' is at its limit (circuit breaking): \(record.error ?? "overflow")",
                     decision: "overflow")
                return
            }
            fail(status: 503, code: .upstreamUnavailable,
                 message: machine.attempts > 1 ? "every destination of '\(plan.service)' failed" : "no destination of '\(plan.service)' is available",
                 decision: "unavailable")
            return
        }
        target = next
        record.destination = next.cluster
        record.endpoint = next.endpointSlot?.endpoint.description
        record.level = next.level
        record.reason = next.reason
        record.attempts = machine.attempts
        worker.openUpstream(UpstreamWait(waiter: self, target: next), grpc: isGRPC)
    }

    func upstreamOpened(_ result: Result<UpstreamHandler, any Error>, for connectedTarget: UpstreamTarget) {
        guard machine.phase == .connecting, connectedTarget === target else {
            // The exchange ended (client gone, timeout) while connecting.
            if case .success(let handler) = result { handler.release(reusable: true, checkIn: worker.checkIn) }
            return
        }
        switch result {
        case .success(let handler):
            attach(handler)
        case .failure(let error):
            let overflow = (error as? UpstreamConnectError)?.kind == .overflow
            lastAttemptOverflowed = overflow
            if !overflow { worker.context.health.recordFailure(connectedTarget.health) }
            record.error = "\(error)"
            handle(machine.connectFailed(replayable: replayable, retryAllowed: retryAllowed), error: error)
        }
    }

    private func attach(_ handler: UpstreamHandler) {
        upstream = handler
        handler.bind(self)
        var version: HTTPVersion?
        if let slot = target?.endpointSlot, !(slot.endpoint.wireProtocol == .h2c || isGRPC) {
            version = .http1_1
        }
        var headWritten = false
        do {
            try handler.writeHead(upstreamHead, version: version)
            headWritten = true
            if everAttached, let retained {
                for part in retained { try handler.write(part) }
                if let end = retainedEnd { try handler.write(.end(end)) }
            } else {
                while let part = unsent.popFirst() { try handler.write(part) }
            }
        } catch {
            refuse(error, connectionClean: !headWritten)
            return
        }
        unsent.removeAll()
        unsentBytes = 0
        everAttached = true
        // Attached while the client's head is being read (a warm connection or stream): the read's completion
        // flushes, so the rest of that read (a GET's end: END_STREAM on the HEADERS frame) leaves with the head.
        if !startingInRead { handler.flush() }
        machine.attached()
        downstream?.resumeReading()
    }

    // MARK: From the client

    func requestBody(_ buffer: ByteBuffer) {
        guard machine.phase != .finished else { return }
        requestBytes += Int64(buffer.readableBytes)
        if let limit = worker.context.configuration.maxRequestBodyBytes, requestBytes > limit {
            fail(status: 413, code: .bodyTooLarge, message: "the request body exceeds \(limit) bytes", decision: "too-large")
            return
        }
        forward(.body(.byteBuffer(buffer)), bytes: buffer.readableBytes)
    }

    func requestEnd(_ trailers: HeaderFields?) {
        machine.requestEnd()
        guard machine.phase != .finished else { return }
        forward(.end(trailers), bytes: 0)
    }

    private func forward(_ part: consuming RequestPart, bytes: Int) {
        if retained != nil {
            if case .end(let trailers) = part {
                retainedEnd = .some(trailers)
            } else if retainedBytes + bytes <= worker.context.configuration.resilience.retryBufferBytes {
                retained!.append(copy part)   // (kept for a retry; the part itself goes on)
                retainedBytes += bytes
            } else {
                retained = nil
            }
        }
        if let upstream, machine.phase != .connecting {
            do {
                try upstream.write(part)
            } catch {
                refuse(error, connectionClean: false)
            }
        } else {
            unsent.append(part)
            unsentBytes += bytes
        }
    }

    func downstreamReadComplete() {
        if machine.phase != .connecting { upstream?.flush() }
    }

    func downstreamBecameWritable() {
        upstream?.resumeReading()
    }

    /// The client went away, or its stream broke the protocol (`malformed`: a body that does not add up to its
    /// length, say), which the access log records as the client's error (400) rather than as a client that left (499).
    func downstreamClosed(malformed: (any Error)? = nil) {
        guard machine.phase != .finished else { return }
        machine.finish()
        releaseUpstream(reusable: false)
        if let malformed {
            complete(status: record.status == 0 ? 400 : record.status, error: "the client's stream broke the protocol: \(malformed)")
        } else {
            complete(status: record.status == 0 ? 499 : record.status, error: "client closed the connection")
        }
    }

    // MARK: From the upstream

    func upstreamReceived(_ part: consuming ReceivedResponsePart, from handler: UpstreamHandler) {
        guard handler === upstream else { return }
        switch consume part {
        case .head(var head):
            guard head.status.code >= 200 else { return }   // 1xx: the gateway answered `expect` itself
            // The destination gateway's own circuit breaking (`overflow`) says nothing about its health: read, from an
            // answer that may be retried, as it came (whatever `connection` names), before the fields change (a copy
            // of the fields kept for this made every change a copy of their buffers).
            let overflowed = ExchangeStateMachine.retriedStatuses.contains(Int(head.status.code))
                && head.headers.first(name: RequestTarget.Header.decision)?.hasPrefix("overflow") == true
            // One pass over the fields: the hop-by-hop ones out, the framing and connection read (they matter from an
            // HTTP/1.x endpoint only).
            let framing = head.headers.removeHopByHop(version: head.version)
            let fromHTTP1 = head.version.major == 1
            if fromHTTP1, let coding = framing.unsupportedTransferCoding {
                // (Only an HTTP/1.1 endpoint can send one.) Relayed, the coding would be lost on the way. A response
                // without a body (to HEAD, a 204, a 304) may name one: there is nothing to lose.
                let bodiless = upstreamHead.method.isHEAD || head.status.code == 204 || head.status.code == 304
                if !bodiless {
                    if let target { worker.context.health.recordFailure(target.health) }
                    fail(status: 502, code: .upstreamUnavailable,
                         message: "the endpoint answered with transfer coding '\(coding)', which cannot cross the mesh (HTTP/2 has none): have it compress with content-encoding",
                         decision: "upstream-protocol")
                    return
                }
            }
            switch machine.responseHead(status: Int(head.status.code), replayable: replayable, retryAllowed: retryAllowed) {
            case .retry:
                if let target, !overflowed { worker.context.health.recordFailure(target.health) }
                lastAttemptOverflowed = overflowed
                record.error = "destination answered \(head.status.code)\(overflowed ? " (overflow)" : "")"
                releaseUpstream(reusable: false)
                worker.countRetry(service: plan.service)
                attempt()
            case .forward:
                record.status = Int(head.status.code)
                if fromHTTP1 && !framing.keepsAlive { upstreamKeepsAlive = false }
                // A gRPC Trailers-Only answer (one HEADERS frame with END_STREAM and `grpc-status`) arrives as this
                // head and the end at once; an HTTP/2 client's ``HTTP2StreamDownstream`` writes the two as one
                // HEADERS frame with END_STREAM again.
                if let downstream, !downstream.isHTTP2Stream {
                    head.version = downstreamVersion
                    if !keepAlive || downstream.closeAfterResponse { head.headers.replaceOrAdd(name: "connection", value: "close") }
                }
                downstream?.write(.head(consume head))   // (the head moves on: not copied)
            case .ignore:
                break
            }
        case .body(let buffer):
            guard machine.phase == .streamingResponse else { return }
            responseBytes += Int64(buffer.readableBytes)
            downstream?.write(.body(.byteBuffer(buffer)))
        case .end(let trailers):
            guard machine.phase == .streamingResponse else { return }
            let reusable = machine.responseEnd()
            downstream?.writeEnd(trailers, close: !keepAlive || !machine.requestEnded || downstream?.closeAfterResponse == true)
            if let target {
                if record.status >= 500 { worker.context.health.recordFailure(target.health) } else { worker.context.health.recordSuccess(target.health) }
            }
            releaseUpstream(reusable: reusable && upstreamKeepsAlive)
            complete(status: record.status, error: nil)
        }
    }

    func upstreamReadComplete() {
        downstream?.flush()
    }

    func upstreamBecameWritable() {
        downstream?.resumeReading()
    }

    func upstreamClosed(_ handler: UpstreamHandler, error: (any Error)?) {
        guard handler === upstream else { return }
        upstream = nil
        lastAttemptOverflowed = false
        let reason = error.map { "\($0)" } ?? "the destination closed the stream"
        record.error = reason
        if let closed = error as? NIOHTTP2Errors.StreamClosed, closed.errorCode == .refusedStream {
            // Not processed (a draining peer): retry elsewhere, and it says nothing about the peer's health.
            handle(machine.upstreamRefused(replayable: replayable, retryAllowed: retryAllowed), error: error)
            return
        }
        if let target { worker.context.health.recordFailure(target.health) }
        handle(machine.upstreamFailed(replayable: replayable, retryAllowed: retryAllowed), error: error)
    }

    // MARK: Outcomes

    private func retryAllowed() -> Bool {
        worker.tryAcquireRetry()
    }

    private func handle(_ action: ExchangeStateMachine.FailureAction, error: (any Error)?) {
        switch action {
        case .retry:
            releaseUpstream(reusable: false)
            worker.countRetry(service: plan.service)
            attempt()
        case .respond(let status):
            let overflow = (error as? UpstreamConnectError)?.kind == .overflow
            fail(status: status, code: overflow ? .overflow : .upstreamUnavailable,
                 message: "'\(plan.service)' at \(target?.cluster ?? "?") failed: \(error.map { "\($0)" } ?? "the destination closed the stream")",
                 decision: overflow ? "overflow" : "upstream-failed")
        case .abortDownstream:
            releaseUpstream(reusable: false)
            downstream?.abort()
            complete(status: record.status, error: record.error ?? "aborted")
        case .none:
            break
        }
    }

    /// The route's timeout passed (called by ``ExchangeDeadlines``).
    func deadlinePassed() {
        deadline = nil
        let timeout = plan.timeout
        switch machine.timedOut() {
        case .respond:
            releaseUpstream(reusable: false)
            respond(APIError(status: 504, code: .upstreamTimeout,
                             message: "'\(plan.service)' did not answer within \(Double(timeout.nanoseconds) / 1e9) s (the service's timeout)"),
                    decision: "timeout")
        case .abortDownstream:
            record.error = "the service's timeout passed mid-response"
            releaseUpstream(reusable: false)
            downstream?.abort()
            complete(status: record.status, error: record.error)
        case .retry, .none:
            break
        }
    }

    /// A request part HTTP/1.1 cannot carry to the endpoint (a control character in a field, a field name that is not
    /// a token): the client's error, answered 400 naming the field, not the endpoint's: no health failure, no retry
    /// elsewhere (it would be refused there too). A connection nothing was written to goes back to the idle list.
    private func refuse(_ refusal: UnsendableRequest, connectionClean: Bool) {
        record.error = refusal.message
        fail(status: 400, code: .invalidField, message: refusal.message, field: refusal.field, decision: "bad-request",
             upstreamReusable: connectionClean)
    }

    /// Answers the client with a gateway error (naming `field`, if any) when nothing has been sent to it yet, and
    /// aborts its response otherwise. The upstream goes back for reuse only when `upstreamReusable` (nothing was
    /// written to it) and the response has not started.
    private func fail(status: Int, code: APIError.Code, message: String, field: String? = nil, decision: String,
                      upstreamReusable: Bool = false) {
        if machine.phase == .streamingResponse {
            record.error = message
            machine.finish()
            releaseUpstream(reusable: false)
            downstream?.abort()
            complete(status: record.status, error: message)
            return
        }
        machine.finish()
        releaseUpstream(reusable: upstreamReusable)
        respond(APIError(status: status, code: code, message: message, field: field), decision: decision)
    }

    private func respond(_ error: APIError, decision: String) {
        downstream?.respond(error, decision: "\(decision); table=\(record.tableVersion.map(String.init) ?? "none")",
                            version: downstreamVersion, close: !keepAlive || !machine.requestEnded || downstream?.closeAfterResponse == true)
        complete(status: error.status, error: error.message)
    }

    private func releaseUpstream(reusable: Bool) {
        guard let handler = upstream else { return }
        upstream = nil
        handler.release(reusable: reusable, checkIn: worker.checkIn)
    }

    private func complete(status: Int, error: String?) {
        if let deadline {
            worker.deadlines.cancel(deadline)
            self.deadline = nil
        }
        record.status = status
        if let error, record.error == nil || status >= 500 { record.error = error }
        record.attempts = max(1, machine.attempts)
        let now = NIODeadline.now()   // (one reading for the duration and the client connection's idle time)
        record.durationSeconds = Double((now - started).nanoseconds) / 1e9
        record.requestBytes = requestBytes
        record.responseBytes = responseBytes
        worker.completed(&record, listener: listener)
        if let downstream {
            self.downstream = nil
            downstream.exchangeFinished(self, at: now)
        }
        unsent.removeAll()
        retained = nil
        retainedEnd = nil
    }
}
