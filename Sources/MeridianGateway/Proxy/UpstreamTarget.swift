/// The destination of one attempt.
enum UpstreamTarget: Equatable {
    /// A peer gateway, over its warm HTTP/2 connection.
    case peer(cluster: String, level: Int, reason: String)
    /// A model server in this cluster.
    case local(cluster: String, endpoint: LocalEndpoint, level: Int?, reason: String)

    var cluster: String {
        switch self {
        case .peer(let cluster, _, _), .local(let cluster, _, _, _): return cluster
        }
    }

    var endpoint: LocalEndpoint? {
        if case .local(_, let endpoint, _, _) = self { return endpoint }
        return nil
    }

    var level: Int? {
        switch self {
        case .peer(_, let level, _): return level
        case .local(_, _, let level, _): return level
        }
    }

    var reason: String {
        switch self {
        case .peer(_, _, let reason), .local(_, _, _, let reason): return reason
        }
    }

    /// The key under which ``DestinationHealth`` tracks it.
    var healthKey: String {
        switch self {
        case .peer(let cluster, _, _): return cluster
        case .local(_, let endpoint, _, _): return DestinationHealth.localKey(endpoint)
        }
    }
}
