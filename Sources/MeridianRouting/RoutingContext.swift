import MeridianModel

/// A snapshot indexed for routing: clusters sorted by name, exporters per service, jurisdictions and regions
/// numbered, residency verdicts and estimated RTTs precomputed. Built once per compile; everything the router
/// reads goes through it, so the order of the snapshot's arrays never matters.
struct RoutingContext {
    let snapshot: RoutingSnapshot
    /// Clusters sorted by name.
    let clusters: [ClusterState]
    let indexByName: [String: Int]
    /// Data classes of the policy, sorted.
    let classes: [String]
    /// Services exported by at least one cluster, sorted.
    let services: [String]
    /// Exporters of each service, as cluster indices sorted by name.
    let exporters: [String: [Int]]
    /// Region number of each cluster.
    let regionOfCluster: [Int]
    /// Jurisdiction number of each cluster.
    let jurisdictionOfCluster: [Int]
    let jurisdictions: [Jurisdiction]
    /// `estimatedRTT[a][b]`, by region number.
    let estimatedRTT: [[Double]]
    /// `permits[class][origin][destination]`, by class index and jurisdiction number.
    let permits: [[[Bool]]]
    /// A peer entry for every cluster, in cluster order.
    let peerOfCluster: [PeerGateway]
    /// Hashes tables from precomputed policy and peer bytes.
    let hasher: RoutingTableHasher
    /// A table with this snapshot's policy, serials and trust bundle, from which every table is made.
    let template: RoutingTable

    init(_ snapshot: RoutingSnapshot) {
        self.snapshot = snapshot
        // Names are unique in a real snapshot; should one repeat, the last after a stable sort wins, deterministically.
        var byName: [String: ClusterState] = [:]
        for cluster in snapshot.clusters { byName[cluster.name] = cluster }
        let clusters = byName.keys.sorted().map { byName[$0]! }
        self.clusters = clusters
        var indexByName: [String: Int] = [:]
        for (index, cluster) in clusters.enumerated() { indexByName[cluster.name] = index }
        self.indexByName = indexByName
        classes = snapshot.policy.classes.keys.sorted()

        var exporters: [String: [Int]] = [:]
        for (index, cluster) in clusters.enumerated() {
            for service in cluster.services.keys { exporters[service, default: []].append(index) }
        }
        self.exporters = exporters
        services = exporters.keys.sorted()

        var regionNumbers: [String: Int] = [:]
        var regions: [Region] = []
        var jurisdictionNumbers: [Jurisdiction: Int] = [:]
        var jurisdictions: [Jurisdiction] = []
        var regionOfCluster: [Int] = []
        var jurisdictionOfCluster: [Int] = []
        for cluster in clusters {
            if regionNumbers[cluster.region.id] == nil {
                regionNumbers[cluster.region.id] = regions.count
                regions.append(cluster.region)
            }
            regionOfCluster.append(regionNumbers[cluster.region.id]!)
            let jurisdiction = cluster.region.jurisdiction
            if jurisdictionNumbers[jurisdiction] == nil {
                jurisdictionNumbers[jurisdiction] = jurisdictions.count
                jurisdictions.append(jurisdiction)
            }
            jurisdictionOfCluster.append(jurisdictionNumbers[jurisdiction]!)
        }
        self.regionOfCluster = regionOfCluster
        self.jurisdictionOfCluster = jurisdictionOfCluster
        self.jurisdictions = jurisdictions
        estimatedRTT = regions.map { from in regions.map { from.estimatedRTTMilliseconds(to: $0) } }
        let policy = snapshot.policy
        permits = classes.map { name in
            jurisdictions.map { origin in jurisdictions.map { policy.permits(dataClass: name, origin: origin, destination: $0) } }
        }
        let peers = clusters.map { PeerGateway(cluster: $0.name, address: $0.gatewayAddress, jurisdiction: $0.region.jurisdiction) }
        peerOfCluster = peers
        hasher = RoutingTableHasher(policy: policy, peers: peers)
        // Made with an empty policy (RoutingTable.init hashes what it is given), then given the real one.
        var template = RoutingTable(source: "", local: PeerGateway(cluster: "", address: "", jurisdiction: Jurisdiction(country: "")),
                                    peers: [], entries: [], policy: ResidencyPolicy(name: "", classes: [:]),
                                    revokedSerials: Array(Set(snapshot.revokedSerials)).sorted(), trustBundlePEM: snapshot.trustBundlePEM)
        template.policy = policy
        self.template = template
    }

    /// Every cluster but `source`, sorted by name: gateways keep a warm connection to, and probe, every peer.
    func peers(excluding source: Int) -> [PeerGateway] {
        var peers = peerOfCluster
        peers.remove(at: source)
        return peers
    }

    /// RTT from `source` to `destination`: measured when a probe reported one, else estimated from the regions.
    func rtt(from source: Int, to destination: Int, measuredRow: [String: Double]?) -> (ms: Double, measured: Bool) {
        if let measured = measuredRow?[clusters[destination].name], measured.isFinite, measured >= 0 {
            return (measured, true)
        }
        return (estimatedRTT[regionOfCluster[source]][regionOfCluster[destination]], false)
    }
}
