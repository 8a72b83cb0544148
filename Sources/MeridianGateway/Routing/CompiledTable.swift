import MeridianModel
import NIOCore

/// A routing table prepared for the hot path: entries by key, peers by cluster, and each entry's levels filtered
/// once more against residency (defence in depth: a destination the policy forbids is dropped even if a table
/// named it).
///
/// Classes, the table and its routes: every request reads them (a route is kept in its plan), and as values each
/// read copied every field, a retain per string and array in them.
public final class CompiledTable: Sendable {
    /// One route, ready to use.
    public final class Route: Sendable {
        public let entry: RouteEntry
        /// The entry's levels, minus destinations the policy forbids for this class from here.
        public let levels: [PriorityLevel]
        /// Destinations dropped by the residency check; empty for a correct table.
        public let forbidden: [String]
        public let timeout: TimeAmount
        /// Its position in ``CompiledTable/routeList``: a worker keeps each route's round-robin state in an array by
        /// it (a lookup by ``RouteKey`` hashed two strings, and the state was copied out and written back).
        public let index: Int

        init(entry: RouteEntry, levels: [PriorityLevel], forbidden: [String], timeout: TimeAmount, index: Int) {
            self.index = index
            self.entry = entry
            self.levels = levels
            self.forbidden = forbidden
            self.timeout = timeout
        }
    }

    /// What admission reads of one service, found with one lookup (by name, the default class, the class's
    /// definition, the route and the caller check were a lookup each, about 400 instructions apiece).
    public final class Service: Sendable {
        /// The class of a request that names none: the service's default, else the policy's.
        public let defaultClass: String?
        /// The service's routes whose class the policy defines (a service has a few: a linear search).
        public let routes: [(dataClass: String, route: Route)]
        /// Clusters the policy lets call the service (`nil`: any).
        public let allowedCallers: Set<String>?

        init(defaultClass: String?, routes: [(dataClass: String, route: Route)], allowedCallers: Set<String>?) {
            self.defaultClass = defaultClass
            self.routes = routes
            self.allowedCallers = allowedCallers
        }

        /// The route for `dataClass`, if the class is defined and the table has one.
        public func route(_ dataClass: String) -> Route? {
            routes.first { $0.dataClass == dataClass }?.route
        }

        /// ``ResidencyPolicy/allowsCaller(_:service:)``.
        public func allowsCaller(_ caller: String) -> Bool {
            allowedCallers.map { $0.contains("*") || $0.contains(caller) } ?? true
        }
    }

    public let table: RoutingTable
    public let routes: [RouteKey: Route]
    /// The routes, each at its ``Route/index``.
    public let routeList: [Route]
    public let peers: [String: PeerGateway]
    /// Every service the policy or a route names.
    public let services: [String: Service]

    public init(_ table: RoutingTable) {
        self.table = table
        var peers: [String: PeerGateway] = [:]
        for peer in table.peers { peers[peer.cluster] = peer }
        self.peers = peers
        var routes: [RouteKey: Route] = [:]
        var routeList: [Route] = []
        for entry in table.entries {
            var forbidden: [String] = []
            let levels = entry.levels.compactMap { level -> PriorityLevel? in
                let kept = level.destinations.filter { destination in
                    if destination.cluster == table.source { return true }
                    guard let peer = peers[destination.cluster],
                          table.policy.permits(dataClass: entry.dataClass, origin: table.local.jurisdiction, destination: peer.jurisdiction)
                    else {
                        forbidden.append(destination.cluster)
                        return false
                    }
                    return true
                }
                return kept.isEmpty ? nil : PriorityLevel(destinations: kept)
            }
            let seconds = entry.timeoutSeconds.isFinite && entry.timeoutSeconds > 0 ? entry.timeoutSeconds : 300
            let route = Route(entry: entry, levels: levels, forbidden: forbidden, timeout: .milliseconds(Int64(seconds * 1000)),
                              index: routeList.count)
            routes[RouteKey(service: entry.service, dataClass: entry.dataClass)] = route
            routeList.append(route)
        }
        self.routes = routes
        self.routeList = routeList
        let policy = table.policy
        var services: [String: Service] = [:]
        for name in Set(policy.services.keys).union(routes.keys.map(\.service)) {
            let defined = routes.filter { $0.key.service == name && policy.classes[$0.key.dataClass] != nil }
                .map { (dataClass: $0.key.dataClass, route: $0.value) }.sorted { $0.dataClass < $1.dataClass }
            services[name] = Service(defaultClass: policy.defaultClass(forService: name), routes: defined,
                                     allowedCallers: policy.services[name].map { Set($0.allowedCallers) })
        }
        self.services = services
    }

    public var version: Int64 { table.version }
    public var localCluster: String { table.source }

    /// The route for a key.
    public func route(_ key: RouteKey) -> Route? { routes[key] }

    /// Every peer cluster some entry may send to.
    public var destinationPeers: Set<String> {
        var result = Set<String>()
        for route in routes.values {
            for level in route.levels { for destination in level.destinations where destination.cluster != table.source { result.insert(destination.cluster) } }
        }
        return result
    }
}
