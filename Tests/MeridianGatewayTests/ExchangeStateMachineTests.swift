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
