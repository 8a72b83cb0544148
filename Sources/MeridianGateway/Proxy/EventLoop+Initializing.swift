import NIOCore

extension EventLoop {
    /// A channel initializer's result: runs `body` now (the initializer runs on the channel's loop) and returns a
    /// succeeded future, the loop's cached one, or a failed one with what `body` threw. (`makeCompletedFuture(_:)`
    /// made a `Result` and a new future: about 1,800 instructions per accepted connection, most of them in the
    /// runtime's generic metadata lookups.)
    func initializing(_ body: () throws -> Void) -> EventLoopFuture<Void> {
        do {
            try body()
            return makeSucceededVoidFuture()
        } catch {
            return makeFailedFuture(error)
        }
    }
}
