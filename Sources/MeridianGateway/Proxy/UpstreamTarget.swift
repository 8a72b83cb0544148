/// The destination of one attempt.
///
/// A class: an attempt's target is handed to the worker, captured by the connect callback, kept by the exchange and
/// read by health accounting, and as a value each of those copies retained its strings and the endpoint's (five
/// retains and releases a copy, about 60 of each per request). The exchange tells its current attempt's target from
/// an earlier one by identity.
final class UpstreamTarget {
    enum Kind {
        /// A peer gateway, over its warm HTTP/2 connection.
        case peer
        /// A model server in this cluster.
        case local(LocalEndpoint)
    }

    let kind: Kind
    let cluster: String
    let level: Int?
    let reason: String
    /// The key under which ``DestinationHealth`` tracks it.
    let healthKey: String

    private init(kind: Kind, cluster: String, level: Int?, reason: String, healthKey: String) {
        self.kind = kind
        self.cluster = cluster
        self.level = level
        self.reason = reason
        self.healthKey = healthKey
    }

    /// A peer gateway, over its warm HTTP/2 connection.
    static func peer(cluster: String, level: Int, reason: String) -> UpstreamTarget {
        UpstreamTarget(kind: .peer, cluster: cluster, level: level, reason: reason, healthKey: cluster)
    }

    /// A model server in this cluster.
    static func local(cluster: String, endpoint: LocalEndpoint, level: Int?, reason: String) -> UpstreamTarget {
        UpstreamTarget(kind: .local(endpoint), cluster: cluster, level: level, reason: reason, healthKey: DestinationHealth.localKey(endpoint))
    }

    var endpoint: LocalEndpoint? {
        if case .local(let endpoint) = kind { return endpoint }
        return nil
    }
}
