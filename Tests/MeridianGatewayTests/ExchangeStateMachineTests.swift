import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP2
import Testing

@testable import MeridianGateway

@Suite("Exchange state machine")
struct ExchangeStateMachineTests {
    @Test("a connect failure is retried whatever the method, within attempts")
    func connectFailureRetried() {
        var machine = ExchangeStateMachine(idempotent: false, maxAttempts: 2)
        machine.startAttempt()
        #expect(machine.connectFailed(replayable: true, retryAllowed: { true }) == .retry)
        machine.startAttempt()
        #expect(machine.connectFailed(replayable: true, retryAllowed: { true }) == .respond(status: 503))
        #expect(machine.phase == .finished)
    }

    @Test("a 503 head is retried for an idempotent request only")
    func retryOn5xx() {
        var get = ExchangeStateMachine(idempotent: true, maxAttempts: 3)
        get.startAttempt()
        get.attached()
        #expect(get.responseHead(status: 503, replayable: true, retryAllowed: { true }) == .retry)
        get.startAttempt()
        get.attached()
        #expect(get.responseHead(status: 200, replayable: true, retryAllowed: { true }) == .forward)
        #expect(get.phase == .streamingResponse)

        var post = ExchangeStateMachine(idempotent: false, maxAttempts: 3)
        post.startAttempt()
        post.attached()
        #expect(post.responseHead(status: 503, replayable: true, retryAllowed: { true }) == .forward)
    }

    @Test("no retry without budget or without the body")
    func noRetryWithoutBudgetOrBody() {
        var machine = ExchangeStateMachine(idempotent: true, maxAttempts: 3)
        machine.startAttempt()
        machine.attached()
        var asked = false
        #expect(machine.upstreamFailed(replayable: false, retryAllowed: { asked = true; return true }) == .respond(status: 502))
        #expect(!asked, "the budget is not spent on a retry that cannot happen")
        var broke = ExchangeStateMachine(idempotent: true, maxAttempts: 3)
        broke.startAttempt()
        broke.attached()
        #expect(broke.responseHead(status: 502, replayable: true, retryAllowed: { false }) == .forward)
    }

    @Test("a failure after the head cuts the client off; a timeout before it answers 504")
    func failureAfterHead() {
        var machine = ExchangeStateMachine(idempotent: true, maxAttempts: 3)
        machine.startAttempt()
        machine.attached()
        _ = machine.responseHead(status: 200, replayable: true, retryAllowed: { true })
        #expect(machine.upstreamFailed(replayable: true, retryAllowed: { true }) == .abortDownstream)
        #expect(machine.upstreamFailed(replayable: true, retryAllowed: { true }) == .none)

        var slow = ExchangeStateMachine(idempotent: true, maxAttempts: 3)
        slow.startAttempt()
        slow.attached()
        #expect(slow.timedOut() == .respond(status: 504))
    }

    @Test("the upstream connection is reusable only when the request was sent whole")
    func reuse() {
        var machine = ExchangeStateMachine(idempotent: false, maxAttempts: 1)
        machine.startAttempt()
        machine.attached()
        _ = machine.responseHead(status: 200, replayable: true, retryAllowed: { true })
        #expect(machine.responseEnd() == false)
        var whole = ExchangeStateMachine(idempotent: false, maxAttempts: 1)
        whole.startAttempt()
        whole.attached()
        whole.requestEnd()
        _ = whole.responseHead(status: 200, replayable: true, retryAllowed: { true })
        #expect(whole.responseEnd() == true)
    }

    @Test("a refused stream (REFUSED_STREAM) is retried even for a POST")
    func refusedStream() {
        var post = ExchangeStateMachine(idempotent: false, maxAttempts: 3)
        post.startAttempt()
        post.attached()
        #expect(post.upstreamRefused(replayable: true, retryAllowed: { true }) == .retry)
        #expect(post.upstreamFailed(replayable: true, retryAllowed: { true }) == .respond(status: 502))
    }
}

/// A stream closed by a peer's GOAWAY was never processed and may be retried, a POST too; other closes may not.
@Suite("Streams a draining peer did not process")
struct GoAwayRefusalTests {
    @Test("above the GOAWAY's last stream: not processed; at or below it, or closed for another reason: maybe processed")
    func streamsAboveTheLastStreamWereNotProcessed() throws {
        let channel = EmbeddedChannel()
        let connection = HTTP2Connection(
            name: "test", host: "127.0.0.1", port: 9, eventLoop: channel.eventLoop, security: .cleartext, connectTimeout: .seconds(1),
            maxConcurrentStreams: 10, maxPending: 10, logger: Logger(label: "test"))
        try channel.pipeline.syncOperations.addHandler(HTTP2ConnectionObserver(connection: connection, readyWhenActive: false))
        let cancelled = { (id: Int) in NIOHTTP2Errors.streamClosed(streamID: HTTP2StreamID(id), errorCode: .cancel) }

        // Before any GOAWAY, a cancelled stream may have been processed.
        #expect(!HTTP2ConnectionObserver.streamWasNotProcessed(cancelled(7), connection: channel))
        #expect(HTTP2ConnectionObserver.streamWasNotProcessed(
            NIOHTTP2Errors.streamClosed(streamID: 7, errorCode: .refusedStream), connection: channel))

        // The two-phase shutdown: first "everything", then "up to 5".
        try channel.writeInbound(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: .maxID, errorCode: .noError, opaqueData: nil)))
        #expect(!HTTP2ConnectionObserver.streamWasNotProcessed(cancelled(7), connection: channel))
        try channel.writeInbound(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: 5, errorCode: .noError, opaqueData: nil)))
        #expect(HTTP2ConnectionObserver.streamWasNotProcessed(cancelled(7), connection: channel))
        #expect(!HTTP2ConnectionObserver.streamWasNotProcessed(cancelled(5), connection: channel))
        #expect(!HTTP2ConnectionObserver.streamWasNotProcessed(
            NIOHTTP2Errors.streamClosed(streamID: 7, errorCode: .internalError), connection: channel))
        #expect(!HTTP2ConnectionObserver.streamWasNotProcessed(ChannelError.ioOnClosedChannel, connection: channel))
        _ = try? channel.finish()
    }
}
