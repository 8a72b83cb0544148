import NIOCore

/// Where a request may go, and what was tried so far.
struct ForwardPlan {
    enum Scope {
        /// A route of the table (local listener).
        case route(CompiledTable.Route)
        /// The service's local endpoints only (tunnel listener: a request from a peer is never sent on).
        case localOnly(LocalService)
    }

    var scope: Scope
    var service: String
    var dataClass: String
    var timeout: TimeAmount
    /// Not sets: a request tries a few destinations at most, and a set's first insertion hashes the string and
    /// allocates its storage (about 1,000 instructions per request).
    var triedClusters = TriedNames()
    var triedEndpoints = TriedNames()
}
