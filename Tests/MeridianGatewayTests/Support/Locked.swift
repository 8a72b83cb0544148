import Synchronization

/// A value shared between the test and handlers on event loops.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    @discardableResult
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
    var value: Value { mutex.withLock { $0 } }
}

/// Polls `probe` until it is true or `timeout` passes.
func eventually(timeout: Duration = .seconds(5), _ probe: () -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if probe() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return probe()
}
