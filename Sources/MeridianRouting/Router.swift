import MeridianModel

/// Compiles a ``RoutingSnapshot`` into one ``RoutingTable`` per source cluster: for every service that some
/// cluster exports and every data class of the policy, priority levels P0..Pn of weighted destinations, or a
/// refusal.
///
/// A pure function: no I/O, no clock, no randomness; the order of the snapshot's arrays and dictionaries does
/// not matter. Same snapshot, same tables, same hashes. The algorithm, with worked examples, is in
/// `docs/routing.md`:
/// 1. candidates: the clusters that export the service;
/// 2. residency, a hard filter (origin: the source cluster's jurisdiction; destination: the candidate's);
///    none left is a refusal with status 451, never a spill;
/// 3. health: clusters held down, or with no healthy endpoint for the service, are dropped (none left: 503);
/// 4. saturation: clusters over a limit of the service are dropped, unless every one left is saturated, in
///    which case they are all kept in a single level;
/// 5. levels by (number of limits violated — latency SLO, price ceiling — then RTT group under the objective);
/// 6. weights in a level proportional to `GPUs × headroom`, divided by RTT (`latency`), price (`cost`) or
///    the geometric mean of both (`balanced`).
public struct Router: Sendable {
    public var configuration: RouterConfiguration

    /// - Parameter configuration: bands and floors; default ``RouterConfiguration/default``.
    public init(configuration: RouterConfiguration = .default) {
        self.configuration = configuration
    }

    /// One table per cluster of the snapshot, keyed by the cluster's name; `version` is 0 (the hub assigns versions).
    public func compile(_ snapshot: RoutingSnapshot) -> [String: RoutingTable] {
        let context = RoutingContext(snapshot)
        var tables: [String: RoutingTable] = [:]
        tables.reserveCapacity(context.clusters.count)
        for source in context.clusters.indices {
            tables[context.clusters[source].name] = makeTable(source: source, in: context)
        }
        return tables
    }

    /// The table of one source cluster, or nil when the snapshot has no cluster of that name.
    public func table(for source: String, in snapshot: RoutingSnapshot) -> RoutingTable? {
        let context = RoutingContext(snapshot)
        guard let index = context.indexByName[source] else { return nil }
        return makeTable(source: index, in: context)
    }

    /// Why the route for (source, service, data class) is what it is: levels, weights, and a verdict with reasons
    /// for every candidate. Agrees with the entry of ``compile(_:)`` by construction.
    public func explain(source: String, service: String, dataClass: String, in snapshot: RoutingSnapshot) -> RouteExplanation {
        let context = RoutingContext(snapshot)
        guard let index = context.indexByName[source] else {
            let preference = snapshot.preferences.preference(for: service)
            let entry = RouteEntry(service: service, dataClass: dataClass, levels: [],
                                   refusal: RouteRefusal(status: 404, reason: "cluster '\(source)' is not registered"),
                                   timeoutSeconds: preference.timeoutSeconds ?? configuration.defaultTimeoutSeconds)
            return RouteExplanation(source: source, service: service, dataClass: dataClass, origin: nil,
                                    objective: preference.objective, entry: entry, candidates: [], notes: [])
        }
        let evaluation = evaluate(source: index, service: service, classIndex: context.classes.firstIndex(of: dataClass),
                                  className: dataClass, in: context, measuredRow: snapshot.measuredRTT[source])
        return RouteExplanation(evaluation, source: index, in: context, configuration: configuration)
    }

    // MARK: - Tables

    /// Every entry of a source, sorted by (service, data class).
    func entries(source: Int, services: [String], in context: RoutingContext) -> [RouteEntry] {
        let measuredRow = context.snapshot.measuredRTT[context.clusters[source].name]
        var entries: [RouteEntry] = []
        entries.reserveCapacity(services.count * context.classes.count)
        for service in services {
            let preference = context.snapshot.preferences.preference(for: service)
            let candidates = candidates(source: source, service: service, limits: preference.saturation, in: context,
                                        measuredRow: measuredRow)
            for (classIndex, name) in context.classes.enumerated() {
                entries.append(evaluate(source: source, service: service, classIndex: classIndex, className: name,
                                        in: context, preference: preference, candidates: candidates).entry)
            }
        }
        return entries
    }

    func makeTable(source: Int, in context: RoutingContext) -> RoutingTable {
        makeTable(source: source, entries: entries(source: source, services: context.services, in: context), in: context)
    }

    /// The table of `source` with `entries`: made from the context's template, hashed by its hasher (the same hash
    /// as `RoutingTable.init` computes, without encoding the policy and the peers again for every table).
    func makeTable(source: Int, entries: [RouteEntry], in context: RoutingContext) -> RoutingTable {
        var table = context.template
        table.source = context.clusters[source].name
        table.local = context.peerOfCluster[source]
        table.peers = context.peers(excluding: source)
        table.entries = entries
        table.hash = context.hasher.hash(table, peersAreAllBut: source)
        return table
    }
}
