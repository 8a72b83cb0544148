import NIOCore
import NIOPosix

/// A TCP relay that delays every byte by `oneWay` in each direction without limiting throughput: a long link on
/// loopback (this machine's kernel has no netem). Its target is looked up at each connection (`target`), so that a
/// relay can be started before the gateway behind it has a port.
final class DelayRelay: Sendable {
    let channel: any Channel
    var port: Int { channel.localAddress?.port ?? 0 }
    /// The connections accepted so far.
    private let accepted: Locked<[any Channel]>
    var acceptedCount: Int { accepted.value.count }

    private init(channel: any Channel, accepted: Locked<[any Channel]>) {
        self.channel = channel
        self.accepted = accepted
    }

    /// Cuts every connection accepted so far, as a link that fails would (both ends see the close).
    func dropConnections() {
        for connection in accepted.value { connection.close(promise: nil) }
    }

    static func start(oneWay: TimeAmount, target: @escaping @Sendable () -> SocketAddress?) async throws -> DelayRelay {
        let accepted = Locked<[any Channel]>([])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { inbound in
                guard let address = target() else { return inbound.eventLoop.makeFailedFuture(MeshError(description: "the relay has no target yet")) }
                accepted.withLock { $0.append(inbound) }
                let toTarget = DelayedPipe(delay: oneWay)
                let back = DelayedPipe(delay: oneWay)
                back.destination = inbound
                let loopBound = NIOLoopBound((toTarget, back), eventLoop: inbound.eventLoop)
                do {
                    try inbound.pipeline.syncOperations.addHandler(toTarget)
                } catch {
                    return inbound.eventLoop.makeFailedFuture(error)
                }
                return ClientBootstrap(group: inbound.eventLoop)
                    .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                    .channelInitializer { outbound in
                        outbound.eventLoop.makeCompletedFuture { try outbound.pipeline.syncOperations.addHandler(loopBound.value.1) }
                    }
                    .connect(to: address)
                    .assumeIsolated()
                    .map { outbound in
                        loopBound.value.0.destination = outbound
                        loopBound.value.0.forwardDue()
                    }
                    .nonisolated()
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return DelayRelay(channel: channel, accepted: accepted)
    }

    func stop() async {
        try? await channel.close()
    }

    /// What one side reads, written to the other `delay` later, in order; its close follows the same way.
    final class DelayedPipe: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer

        let delay: TimeAmount
        var destination: (any Channel)?
        private var queue = CircularBuffer<(due: NIODeadline, bytes: ByteBuffer?)>()
        private var timer: Scheduled<Void>?
        private var eventLoop: (any EventLoop)?

        init(delay: TimeAmount) {
            self.delay = delay
        }

        func handlerAdded(context: ChannelHandlerContext) {
            eventLoop = context.eventLoop
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            queue.append((NIODeadline.now() + delay, unwrapInboundIn(data)))
            schedule()
        }

        func channelInactive(context: ChannelHandlerContext) {
            queue.append((NIODeadline.now() + delay, nil))   // the close, after the bytes before it
            schedule()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }

        /// Writes what is due (once the destination is connected) and waits for the next.
        func forwardDue() {
            timer = nil
            guard let destination else { return }
            let now = NIODeadline.now()
            var wrote = false
            while let first = queue.first, first.due <= now {
                queue.removeFirst()
                guard let bytes = first.bytes else {
                    destination.close(promise: nil)
                    queue.removeAll()
                    return
                }
                destination.write(bytes, promise: nil)
                wrote = true
            }
            if wrote { destination.flush() }
            schedule()
        }

        private func schedule() {
            guard timer == nil, destination != nil, let first = queue.first, let eventLoop else { return }
            timer = eventLoop.assumeIsolated().scheduleTask(deadline: first.due) { self.forwardDue() }
        }
    }
}
