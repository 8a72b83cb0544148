import Foundation
import MeridianModel
import MeridianStore

/// Decides which clusters are down: a cluster is down when it has sent no heartbeat for `heartbeatTimeout`, or
/// when most of its peers that reported recently cannot reach it (at least two reporters, so that one
/// partitioned peer never takes a cluster down). A pure function of its inputs.
public struct FailureDetector: Sendable {
    /// A status change the detector wants.
    public struct Transition: Sendable, Hashable {
        public var cluster: String
        public var status: ClusterStatus
        public var reason: String
    }

    public var heartbeatTimeout: TimeInterval
    /// Probe reports older than this do not count.
    public var probeFreshness: TimeInterval

    public init(heartbeatTimeout: TimeInterval, probeFreshness: TimeInterval? = nil) {
        self.heartbeatTimeout = heartbeatTimeout
        self.probeFreshness = probeFreshness ?? max(10, heartbeatTimeout * 2)
    }

    public func evaluate(clusters: [Cluster], probes: [ProbeObservation], now: Date) -> [Transition] {
        let live = Set(clusters.filter { heartbeatFresh($0, now: now) }.map(\.name))
        var transitions: [Transition] = []
        for cluster in clusters {
            // Only live reporters count: a dead cluster's stale view of others is no evidence.
            let reports = probes.filter { $0.to == cluster.name && live.contains($0.from) && now.timeIntervalSince($0.observedAt) <= probeFreshness }
            let unreachable = reports.filter { !$0.reachable }.count
            let partitioned = reports.count >= 2 && unreachable * 2 > reports.count
            let fresh = heartbeatFresh(cluster, now: now)
            let desired: ClusterStatus
            let reason: String
            if !fresh {
                guard cluster.lastHeartbeatAt != nil else { continue } // never reported: stays pending
                let age = cluster.lastHeartbeatAt.map { now.timeIntervalSince($0) } ?? .infinity
                desired = .down
                reason = String(format: "no heartbeat for %.1f s (limit %.1f s)", age, heartbeatTimeout)
            } else if partitioned {
                desired = .down
                reason = "\(unreachable) of \(reports.count) peers cannot reach its gateway"
            } else {
                desired = .up
                reason = reports.isEmpty ? "heartbeats resumed" : "heartbeats arrive and \(reports.count - unreachable) of \(reports.count) peers reach it"
            }
            if desired != cluster.status { transitions.append(Transition(cluster: cluster.name, status: desired, reason: reason)) }
        }
        return transitions
    }

    private func heartbeatFresh(_ cluster: Cluster, now: Date) -> Bool {
        guard let last = cluster.lastHeartbeatAt else { return false }
        return now.timeIntervalSince(last) <= heartbeatTimeout
    }
}
