/// The destination of one attempt.
///
/// A class: an attempt's target is handed to the worker, captured by the connect callback, kept by the exchange and
/// read by health accounting, and as a value each of those copies retained its strings and the endpoint's (five
/// retains and releases a copy, about 60 of each per request). The exchange tells its current attempt's target from
/// an earlier one by identity.
final class UpstreamTarget {
    enum Kind {
        /// A peer gateway, over its warm HTTP/2 connection (`nil`: the worker has none, so opening fails).
        case peer(HTTP2Connection?)
        /// A model server in this cluster.
        case local(LocalEndpointSlot)
    }

    let kind: Kind
    let cluster: String
    let level: Int?
    let reason: String
    /// Its record in ``DestinationHealth``, held so that recording an outcome looks nothing up.
    let health: DestinationHealth.Cell

    private init(kind: Kind, cluster: String, level: Int?, reason: String, health: DestinationHealth.Cell) {
        self.kind = kind
        self.cluster = cluster
        self.level = level
        self.reason = reason
        self.health = health
    }

    /// A peer gateway, over `connection`, the worker's warm HTTP/2 connection to it.
    static func peer(cluster: String, connection: HTTP2Connection?, health: DestinationHealth.Cell, level: Int, reason: String) -> UpstreamTarget {
        UpstreamTarget(kind: .peer(connection), cluster: cluster, level: level, reason: reason, health: health)
    }

    /// A model server in this cluster.
    static func local(cluster: String, slot: LocalEndpointSlot, level: Int?, reason: String) -> UpstreamTarget {
        UpstreamTarget(kind: .local(slot), cluster: cluster, level: level, reason: reason, health: slot.health)
    }

    /// The model server, when the target is one: its slot, whose ``LocalEndpointSlot/endpoint`` is read in place
    /// (returned as a value, the endpoint was copied, a retain of each of its strings, to read one of them).
    var endpointSlot: LocalEndpointSlot? {
        if case .local(let slot) = kind { return slot }
        return nil
    }
}

/// Told when the stream or connection it asked for is ready, or cannot be had: an exchange's attempt.
///
/// An object, not a closure: the callback an attempt handed on captured the exchange and its target, and that context
/// was allocated on the heap on every request (at east, twice: the stream's connection wrapped it once more).
protocol UpstreamWaiter: AnyObject {
    func upstreamOpened(_ result: Result<UpstreamHandler, any Error>, for target: UpstreamTarget)
}

/// A request for an upstream: who waits for it, for which attempt's target.
struct UpstreamWait {
    let waiter: any UpstreamWaiter
    let target: UpstreamTarget

    func callAsFunction(_ result: Result<UpstreamHandler, any Error>) {
        waiter.upstreamOpened(result, for: target)
    }
}
