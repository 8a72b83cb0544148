import Foundation
import MeridianModel

/// A published routing table, as stored: its canonical JSON is served to gateways byte for byte, never decoded
/// and re-encoded by the hub.
public struct PublishedTable: Sendable, Hashable {
    public var cluster: String
    public var version: Int64
    public var hash: String
    public var publishedAt: Date
    /// The canonical JSON served to gateways.
    public var body: Data
}

/// The hub's in-memory copy of the published tables, and the gateways' blocking queries waiting on them
/// (`GET /v1/gateway/config?index=N&wait=30s`, answered as soon as a version above N exists).
actor TableCache {
    private var tables: [String: PublishedTable] = [:]
    private var waiters: [String: [Int: CheckedContinuation<Void, Never>]] = [:]
    private var nextWaiter = 0

    func table(for cluster: String) -> PublishedTable? { tables[cluster] }

    func all() -> [String: PublishedTable] { tables }

    /// Stores a table if it is newer than the one held and wakes the cluster's watchers.
    func update(_ published: PublishedTable) {
        if let existing = tables[published.cluster], existing.version >= published.version { return }
        tables[published.cluster] = published
        if let waiting = waiters.removeValue(forKey: published.cluster) {
            for continuation in waiting.values { continuation.resume() }
        }
    }

    /// Forgets a removed cluster's table.
    func remove(_ cluster: String) {
        tables.removeValue(forKey: cluster)
    }

    /// Returns the cluster's table once its version exceeds `index`, or whatever is held when `timeout` passes.
    func watch(cluster: String, index: Int64, timeout: Duration) async -> PublishedTable? {
        if let current = tables[cluster], current.version > index { return current }
        let id = nextWaiter
        nextWaiter += 1
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.suspend(cluster: cluster, id: id) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                await self.resume(cluster: cluster, id: id)
            }
            await group.next()
            group.cancelAll()
            self.resume(cluster: cluster, id: id)
        }
        return tables[cluster]
    }

    private func suspend(cluster: String, id: Int) async {
        await withCheckedContinuation { continuation in
            waiters[cluster, default: [:]][id] = continuation
        }
    }

    private func resume(cluster: String, id: Int) {
        waiters[cluster]?.removeValue(forKey: id)?.resume()
    }

    /// Number of blocked watchers (metrics).
    func watcherCount() -> Int { waiters.values.reduce(0) { $0 + $1.count } }
}
