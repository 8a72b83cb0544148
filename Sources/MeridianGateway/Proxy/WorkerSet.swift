import NIOCore

/// One ``ForwardingWorker`` per event loop of the gateway's group, found by the loop a channel lives on.
final class WorkerSet: Sendable {
    let workers: [ForwardingWorker]
    private let byLoop: [ObjectIdentifier: ForwardingWorker]

    init(group: any EventLoopGroup, context: DataPlaneContext) {
        var workers: [ForwardingWorker] = []
        var byLoop: [ObjectIdentifier: ForwardingWorker] = [:]
        for loop in group.makeIterator() {
            let worker = ForwardingWorker(eventLoop: loop, context: context)
            workers.append(worker)
            byLoop[ObjectIdentifier(loop)] = worker
        }
        self.workers = workers
        self.byLoop = byLoop
    }

    /// The worker of `loop` (every loop of the group has one).
    func worker(for loop: any EventLoop) -> ForwardingWorker {
        guard let worker = byLoop[ObjectIdentifier(loop)] else {
            preconditionFailure("event loop \(loop) is not part of the gateway's group")
        }
        return worker
    }

    /// Runs `body` on every worker's loop and waits for all.
    func forEach(_ body: @escaping @Sendable (ForwardingWorker) -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            for worker in workers {
                group.addTask {
                    try? await worker.eventLoop.submit { body(worker) }.get()
                }
            }
        }
    }
}
