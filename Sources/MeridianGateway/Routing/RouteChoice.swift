/// Where the selector sends one attempt of a request.
public struct RouteChoice: Sendable, Hashable {
    /// The destination cluster (the table's source for the local cluster).
    public var cluster: String
    /// The priority level it came from (0 for P0).
    public var level: Int
    /// Why: `primary` (the first available level), `failover` (a lower level because the ones above are ejected or
    /// were tried), `panic` (every destination is ejected, so the selector ignores ejection rather than fail).
    public var reason: String

    public init(cluster: String, level: Int, reason: String) {
        self.cluster = cluster
        self.level = level
        self.reason = reason
    }
}
