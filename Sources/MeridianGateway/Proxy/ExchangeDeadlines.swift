import NIOCore

/// What ``Deadlines`` times out.
protocol DeadlineHolder: AnyObject {
    /// The deadline passed (called once, on the event loop).
    func deadlinePassed()
}

/// The request timeouts of one event loop's exchanges.
typealias ExchangeDeadlines = Deadlines<ProxyExchange>

/// Timeouts on one scheduled task instead of one per request.
///
/// A scheduled task per request cost about 2 % of a gateway's CPU: several allocations each, and NIO cancels a task
/// by searching its whole timer heap, which holds every request in flight. Here each timeout length has a list in
/// deadline order (a request added later ends later), so adding is an append, ending a request an unlink, and the one
/// task wakes at the earliest deadline of all lists (early, when that request ended: it then sleeps again until the
/// next one).
///
/// Confined to `eventLoop`. Generic over what it times out so that it can be tested alone; the gateway uses
/// ``ExchangeDeadlines``.
final class Deadlines<Exchange: DeadlineHolder> {
    /// One exchange's deadline, linked in its timeout's list until it ends or passes.
    final class Entry {
        let deadline: NIODeadline
        fileprivate var exchange: Exchange?
        fileprivate var next: Entry?
        /// The list holds its entries through `next`; `previous` is valid exactly while the entry is linked.
        fileprivate unowned(unsafe) var previous: Entry?
        fileprivate var list = -1

        fileprivate init(deadline: NIODeadline, exchange: Exchange) {
            self.deadline = deadline
            self.exchange = exchange
        }
    }

    private struct List {
        var timeout: TimeAmount
        var head: Entry?
        unowned(unsafe) var tail: Entry?
    }

    private let eventLoop: any EventLoop
    private var lists: [List] = []
    private var wakeUp: (deadline: NIODeadline, task: Scheduled<Void>)?

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Calls `exchange.deadlinePassed()` after `timeout`, unless ``cancel(_:)`` comes first.
    func add(_ exchange: Exchange, timeout: TimeAmount) -> Entry {
        let entry = Entry(deadline: eventLoop.now + timeout, exchange: exchange)
        let index = lists.firstIndex { $0.timeout == timeout } ?? {
            lists.append(List(timeout: timeout))
            return lists.count - 1
        }()
        entry.list = index
        if let tail = lists[index].tail {
            tail.next = entry
            entry.previous = tail
        } else {
            lists[index].head = entry
        }
        lists[index].tail = entry
        if wakeUp == nil || entry.deadline < wakeUp!.deadline { wake(at: entry.deadline) }
        return entry
    }

    /// The exchange ended first.
    func cancel(_ entry: Entry) {
        entry.exchange = nil
        unlink(entry)
    }

    private func unlink(_ entry: Entry) {
        guard entry.list >= 0 else { return }
        let index = entry.list
        entry.list = -1
        if let previous = entry.previous { previous.next = entry.next } else { lists[index].head = entry.next }
        if let next = entry.next { next.previous = entry.previous } else { lists[index].tail = entry.previous }
        entry.next = nil
        entry.previous = nil
    }

    private func wake(at deadline: NIODeadline) {
        wakeUp?.task.cancel()
        // (Strong: a weak reference would route every retain and release of these deadlines through a side table.
        // The event loop lets go of the closure when the task runs or is cancelled.)
        let task = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.wakeUp = nil
            self.fire()
        }
        wakeUp = (deadline, task)
    }

    private func fire() {
        let now = eventLoop.now
        var expired: [Exchange] = []
        for index in lists.indices {
            while let head = lists[index].head, head.deadline <= now {
                unlink(head)
                if let exchange = head.exchange {
                    head.exchange = nil
                    expired.append(exchange)
                }
            }
        }
        for exchange in expired { exchange.deadlinePassed() }
        if wakeUp == nil, let earliest = lists.compactMap({ $0.head?.deadline }).min() { wake(at: earliest) }
    }
}
