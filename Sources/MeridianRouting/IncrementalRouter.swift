import MeridianModel

/// Keeps the last snapshot and its tables, and on each new snapshot recomputes only the entries a change can
/// affect; the result always equals ``Router/compile(_:)`` of the new snapshot (the property tests check it).
///
/// What a change recomputes:
/// - policy or routing preferences: everything;
/// - a cluster's state (health, load, price, GPUs, exported services): in every table, the entries of the
///   services that cluster exported before or exports now;
/// - a cluster's region: also that cluster's own table (its origin and RTTs change);
/// - a cluster added or removed, or its gateway address or jurisdiction changed: also every table's peers;
/// - a source's measured RTTs: that source's table;
/// - revoked serials or the trust bundle: those fields of every table (no entry is recomputed).
///
/// A table whose content did not change keeps its hash and is not reported as changed.
public struct IncrementalRouter: Sendable {
    public let router: Router
    /// The snapshot the current tables were compiled from; nil before the first update.
    public private(set) var snapshot: RoutingSnapshot?
    /// The current tables, by source cluster name.
    public private(set) var tables: [String: RoutingTable]

    /// - Parameter router: the router whose algorithm to apply; default `Router()`.
    public init(router: Router = Router()) {
        self.router = router
        self.snapshot = nil
        self.tables = [:]
    }

    /// Moves to `snapshot`: returns every table, and the sources whose table changed (added, removed, or new
    /// content).
    public mutating func update(_ snapshot: RoutingSnapshot) -> (tables: [String: RoutingTable], changedSources: Set<String>) {
        let newTables: [String: RoutingTable]
        if let previous = self.snapshot, previous.policy == snapshot.policy, previous.preferences == snapshot.preferences {
            newTables = recompute(from: previous, to: snapshot)
        } else {
            newTables = router.compile(snapshot)
        }
        var changed = Set<String>()
        for (source, table) in newTables where tables[source]?.hash != table.hash { changed.insert(source) }
        for source in tables.keys where newTables[source] == nil { changed.insert(source) }
        self.snapshot = snapshot
        self.tables = newTables
        return (newTables, changed)
    }

    /// What moving to `snapshot` would change, without moving: for `policy apply --dry-run` and `route simulate`.
    public func preview(_ snapshot: RoutingSnapshot) -> RouteDiff {
        var copy = self
        return RouteDiff(old: tables, new: copy.update(snapshot).tables)
    }

    func recompute(from previous: RoutingSnapshot, to snapshot: RoutingSnapshot) -> [String: RoutingTable] {
        let context = RoutingContext(snapshot)
        var before: [String: ClusterState] = [:]
        for cluster in previous.clusters { before[cluster.name] = cluster }

        var affected = Set<String>()
        var fullSources = Set<String>()
        var peersChanged = false
        for name in Set(before.keys).union(context.indexByName.keys) {
            let old = before[name]
            let new = context.indexByName[name].map { context.clusters[$0] }
            if old == new { continue }
            affected.formUnion(old?.services.keys ?? [:].keys)
            affected.formUnion(new?.services.keys ?? [:].keys)
            guard let old, let new else {
                peersChanged = true
                fullSources.insert(name)
                continue
            }
            if old.gatewayAddress != new.gatewayAddress || old.region.jurisdiction != new.region.jurisdiction { peersChanged = true }
            if old.region != new.region { fullSources.insert(name) }
        }
        for source in Set(previous.measuredRTT.keys).union(snapshot.measuredRTT.keys)
        where previous.measuredRTT[source] != snapshot.measuredRTT[source] {
            fullSources.insert(source)
        }
        let envelopeChanged = Set(previous.revokedSerials) != Set(snapshot.revokedSerials) || previous.trustBundlePEM != snapshot.trustBundlePEM
        let affectedServices = affected.sorted()

        var result: [String: RoutingTable] = [:]
        result.reserveCapacity(context.clusters.count)
        for source in context.clusters.indices {
            let name = context.clusters[source].name
            guard let old = tables[name], !fullSources.contains(name) else {
                result[name] = router.makeTable(source: source, in: context)
                continue
            }
            var entries = old.entries
            var entriesChanged = false
            for service in affectedServices.reversed() {
                let lower = Self.firstIndex(in: entries) { $0.service >= service }
                let upper = Self.firstIndex(in: entries) { $0.service > service }
                let replacement = context.exporters[service] == nil
                    ? [] : router.entries(source: source, services: [service], in: context)
                if !entriesChanged && !entries[lower..<upper].elementsEqual(replacement) { entriesChanged = true }
                entries.replaceSubrange(lower..<upper, with: replacement)
            }
            if peersChanged {
                result[name] = router.makeTable(source: source, entries: entries, in: context)
            } else if entriesChanged || envelopeChanged {
                // Same peers: keep the old table's peer list (no copy) and hash it again.
                var table = old
                table.entries = entries
                table.revokedSerials = context.template.revokedSerials
                table.trustBundlePEM = context.template.trustBundlePEM
                table.hash = context.hasher.hash(table, peersAreAllBut: source)
                result[name] = table
            } else {
                result[name] = old
            }
        }
        return result
    }

    /// First index whose entry satisfies `predicate`, which must be false then true over the sorted entries.
    static func firstIndex(in entries: [RouteEntry], where predicate: (RouteEntry) -> Bool) -> Int {
        var low = 0, high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if predicate(entries[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
