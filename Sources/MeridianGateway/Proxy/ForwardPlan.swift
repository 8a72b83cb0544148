import NIOCore

/// Where a request may go: what admission decided. A class, immutable: the worker keeps the last admission's plan for
/// the next request like it, and every request admitted by it shares the one plan. (As a value, with the destinations
/// tried in it, each request copied it twice, a retain and a release of each of its strings: about 800 instructions
/// per request in each gateway.) What a request has tried is its own: ``TriedDestinations``.
final class ForwardPlan {
    enum Scope {
        /// A route of the table (local listener).
        case route(CompiledTable.Route)
        /// The service's local endpoints only (tunnel listener: a request from a peer is never sent on).
        case localOnly(LocalService)
    }

    let scope: Scope
    let service: String
    let dataClass: String
    let timeout: TimeAmount

    init(scope: Scope, service: String, dataClass: String, timeout: TimeAmount) {
        self.scope = scope
        self.service = service
        self.dataClass = dataClass
        self.timeout = timeout
    }
}

/// The clusters and endpoints one request has tried, in order.
struct TriedDestinations {
    /// Not sets: a request tries a few destinations at most, and a set's first insertion hashes the string and
    /// allocates its storage (about 1,000 instructions per request).
    var clusters = TriedNames()
    var endpoints = TriedNames()
}
