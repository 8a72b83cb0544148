import Synchronization

/// A database call that did not answer in time.
struct DeadlineExceeded: Error, CustomStringConvertible {
    var what: String
    var timeout: Duration
    var description: String { "\(what) did not answer within \(timeout)" }
}

/// Runs `operation`, giving up after `timeout`. A PostgreSQL query that is in flight when the server shuts down can
/// wait for ever (seen with PostgresNIO: the server's goodbye never fails the query), and a control loop stuck on it
/// would stop publishing. On timeout the operation's task is cancelled and left to end on its own; the caller goes
/// on (reconnects, retries). Cancelling the caller cancels the operation and returns at once.
func withDeadline<T: Sendable>(_ timeout: Duration, _ what: String, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    let outcome = Outcome<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            outcome.start(continuation)
            let work = Task {
                do { outcome.finish(.success(try await operation())) } catch { outcome.finish(.failure(error)) }
            }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { outcome.finish(.failure(DeadlineExceeded(what: what, timeout: timeout))) }
            }
            outcome.onFinish { work.cancel(); timer.cancel() }
        }
    } onCancel: {
        outcome.finish(.failure(CancellationError()))
    }
}

/// Runs `operation` in a detached task and waits for it at most `timeout`, even when the caller is cancelled: for
/// clean-up that must happen on shutdown (closing the leader's session releases its lock), but must not hang it.
/// Returns whether the operation finished in time; if not, it goes on by itself.
@discardableResult
func finishDetached(within timeout: Duration, _ operation: @escaping @Sendable () async -> Void) async -> Bool {
    let outcome = Outcome<Bool>()
    return (try? await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
        outcome.start(continuation)
        Task.detached {
            await operation()
            outcome.finish(.success(true))
        }
        let timer = Task.detached {
            try? await Task.sleep(for: timeout)
            outcome.finish(.success(false))
        }
        outcome.onFinish { timer.cancel() }
    }) ?? false
}

/// The first result of a race, delivered once.
private final class Outcome<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var result: Result<T, any Error>?
        var cleanup: (@Sendable () -> Void)?
    }
    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<T, any Error>) {
        let early = state.withLock { state -> Result<T, any Error>? in
            if let result = state.result { return result }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    func onFinish(_ cleanup: @escaping @Sendable () -> Void) {
        let finished = state.withLock { state -> Bool in
            if state.result != nil { return true }
            state.cleanup = cleanup
            return false
        }
        if finished { cleanup() }
    }

    func finish(_ result: Result<T, any Error>) {
        let (continuation, cleanup) = state.withLock { state -> (CheckedContinuation<T, any Error>?, (@Sendable () -> Void)?) in
            guard state.result == nil else { return (nil, nil) }
            state.result = result
            defer { state.continuation = nil; state.cleanup = nil }
            return (state.continuation, state.cleanup)
        }
        continuation?.resume(with: result)
        cleanup?()
    }
}
