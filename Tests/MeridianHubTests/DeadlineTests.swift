@testable import MeridianHub
import Synchronization
import Testing

@Suite("Deadlines of the control loops")
struct DeadlineTests {
    @Test("an operation that never answers (and ignores cancellation) is abandoned at its deadline")
    func hangingOperation() async throws {
        let error = await #expect(throws: DeadlineExceeded.self) {
            try await withDeadline(.milliseconds(200), "a hung query") {
                // Ignores cancellation, like a query whose connection's server went away.
                await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }
            }
        }
        #expect(error?.description == "a hung query did not answer within 0.2 seconds")
    }

    @Test("a result or an error within the deadline comes through unchanged")
    func passesThrough() async throws {
        #expect(try await withDeadline(.seconds(5), "sum") { 40 + 2 } == 42)
        struct Refused: Error {}
        await #expect(throws: Refused.self) { try await withDeadline(.seconds(5), "refusal") { throw Refused() } }
    }

    @Test("cancelling the caller returns at once and cancels the operation")
    func cancellation() async throws {
        let cancelled = Atomic<Bool>(false)
        let task = Task {
            try await withDeadline(.seconds(60), "a long wait") {
                do { try await Task.sleep(for: .seconds(60)) } catch { cancelled.store(true, ordering: .relaxed); throw error }
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        // Returns long before the deadline or the operation's 60 s.
        await #expect(throws: CancellationError.self) { try await task.value }
        try await Task.sleep(for: .milliseconds(100))
        let operationSawCancellation = cancelled.load(ordering: .relaxed)
        #expect(operationSawCancellation)
    }
}
